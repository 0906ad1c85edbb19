"""Tests of clinic/: FHIR bridge, clinic flow, webhooks, subscriptions (real FHIR servers)."""
