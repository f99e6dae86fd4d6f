"""New-data sensor: a source whose data changed refreshes its raw copy.

The training source refreshes `raw` and its profile (retraining stays a decision of the drift
sensor or a person); the scoring source refreshes `raw_batch`, and declarative automation
carries the ungated chain on from there (scoring features, batch scores, drift).

A source is refreshed when its fingerprint (`sources/fingerprint.py`) differs from the one its
raw copy's latest commit was ingested from. A raw copy that does not exist yet is the lifecycle
run's first ingest, not a refresh: refreshing it would queue a run ahead of the person's (one
run per experiment). Raw copies written before fingerprints were stamped fall back to the
cursor: the first tick only records fingerprints, later ticks refresh what changed.
"""

import json
from pathlib import Path

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.resources import LakeResource
from aurora_pipelines.specs import ExperimentSpec


def _needs_refresh(table: Path, fingerprint: str, seen: dict | None, name: str) -> bool:
    from aurora_pipelines.lake import delta
    from aurora_pipelines.sources.fingerprint import ingested_fingerprint

    if not delta.is_delta_table(table):
        return False
    ingested = ingested_fingerprint(table)
    if ingested is not None:
        return ingested != fingerprint
    return seen is not None and fingerprint != seen.get(name)


def build_new_data_sensor(spec: ExperimentSpec, refresh: dg.JobDefinition) -> dg.SensorDefinition:
    watched = {"raw": spec.source, "raw_batch": spec.scoring_source}
    stages = {"raw": [lifecycle.RAW, lifecycle.PROFILE], "raw_batch": [lifecycle.RAW_BATCH]}

    @dg.sensor(
        name=f"{spec.name}__new_data_sensor",
        job=refresh,
        minimum_interval_seconds=120,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Refreshes raw when {spec.source.display} changes and raw_batch when "
        f"{spec.scoring_source.display} changes.",
    )
    def new_data_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
        from aurora_pipelines.sources.fingerprint import source_fingerprint

        seen = json.loads(context.cursor) if context.cursor else None
        now = {
            name: source_fingerprint(source, lake.settings_for(None))
            for name, source in watched.items()
        }
        context.update_cursor(json.dumps(now))
        changed = [
            name
            for name, fp in now.items()
            if fp is not None
            and _needs_refresh(lake.path(spec.name, *stages[name][0]), fp, seen, name)
        ]
        if not changed:
            return dg.SkipReason(
                "first look: fingerprints recorded" if seen is None else "no source changed"
            )
        return [
            dg.RunRequest(
                run_key=f"{name}-{now[name]}",
                asset_selection=[dg.AssetKey(spec.key(*stage)) for stage in stages[name]],
                tags={"aurora/trigger": "new_data", "aurora/source": name},
            )
            for name in changed
        ]

    return new_data_sensor
