"""Daily partitions shared by every time-windowed asset (batch scores, drift, performance)."""

import dagster as dg

# Early enough for any sample or replayed data; Dagster only lists partitions up to today.
DAILY_START = "2026-01-01"


def daily_partitions() -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=DAILY_START, timezone="UTC")
