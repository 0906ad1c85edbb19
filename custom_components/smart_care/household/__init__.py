"""The household runtime: people, readings, sources, keys, privacy (docs/architecture.md)."""
