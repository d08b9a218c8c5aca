"""Benchmarks: each a command printing its figures, last line one JSON object (DESIGN §8)."""
