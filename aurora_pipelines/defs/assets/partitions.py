"""Daily partitions shared by every time-windowed asset (batch scores, drift, performance)."""

import dagster as dg

# Early enough for any sample or replayed data; Dagster only lists partitions up to today.
DAILY_START = "2026-01-01"


def daily_partitions() -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists (Dagster otherwise lists only finished days), so
    # `aurora run`, the approval sensor and the 06:00 schedule can score the day's batch.
    return dg.DailyPartitionsDefinition(start_date=DAILY_START, timezone="UTC", end_offset=1)
