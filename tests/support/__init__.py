"""Shared helpers of the tests (no test functions here)."""
