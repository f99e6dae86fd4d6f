"""Aurora: the ML lifecycle engine. Plain Python; only the `defs` package imports Dagster."""
