"""Checks on the project as a whole: metadata, translations, versions, import layers, the demo."""
