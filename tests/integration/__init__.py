"""Tests of the top-level modules: set-up, config flow, platforms, services, diagnostics."""
