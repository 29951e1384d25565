"""Relational analyses that run in the engine (attribution, metrics)."""
