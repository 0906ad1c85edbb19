"""Tests of care/: alerts, knowledge, medication and the visit report in a real HA."""
