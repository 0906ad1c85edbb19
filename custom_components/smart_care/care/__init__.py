"""Care features: alerts, knowledge notes, medication (docs/architecture.md)."""
