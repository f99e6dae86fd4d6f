"""Dagster asset factories, one module per lifecycle stage. Thin: they call the engine."""
