"""Tests of the blueprints: each automation run in a real HA with real phones."""
