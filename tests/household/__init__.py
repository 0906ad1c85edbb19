"""Tests of household/: people, attribution, other sensors as sources, statistics, keys."""
