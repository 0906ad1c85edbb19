"""The encrypted record store (docs/security.md)."""
