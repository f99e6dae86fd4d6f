"""Aurora: the ML lifecycle engine. Plain Python; only definitions.py imports Dagster."""
