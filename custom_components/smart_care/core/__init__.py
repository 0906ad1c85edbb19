"""Pure core: no Home Assistant import anywhere in this package (docs/architecture.md)."""
