"""The clinic link: FHIR bridge, webhook, subscription, flow and services (docs/clinic.md)."""
