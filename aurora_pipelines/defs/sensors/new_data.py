"""New-data sensor: a source whose data changed refreshes its raw copy.

The training source refreshes `raw` and its profile (retraining stays a decision of the drift
sensor or a person); the scoring source refreshes `raw_batch`, and declarative automation
carries the ungated chain on from there (scoring features, batch scores, drift). The cursor
holds each source's fingerprint (`sources/fingerprint.py`); the first tick only records them,
so a new instance does not re-ingest what is already there.
"""

import json

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.resources import LakeResource
from aurora_pipelines.specs import ExperimentSpec


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
        if seen is None:
            return dg.SkipReason("first look: fingerprints recorded")
        changed = [name for name, fp in now.items() if fp is not None and fp != seen.get(name)]
        if not changed:
            return dg.SkipReason("no source changed")
        return [
            dg.RunRequest(
                run_key=f"{name}-{now[name]}",
                asset_selection=[dg.AssetKey(spec.key(*stage)) for stage in stages[name]],
                tags={"aurora/trigger": "new_data", "aurora/source": name},
            )
            for name in changed
        ]

    return new_data_sensor
