"""Fakes: stand-ins for what the tests cannot have for real (the radio, a faulty FHIR server)."""
