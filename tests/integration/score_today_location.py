"""A small code location for the `<experiment>__score_today` test: one experiment's serving
assets, its `__score_and_monitor` job and its `__score_today` job, loaded by module the way
Dagster's run worker loads a location (the op finds its target job in the repository)."""

import dagster as dg

from aurora_pipelines.defs.assets.partitions import daily_partitions
from aurora_pipelines.defs.assets.serving import build_serving_assets
from aurora_pipelines.defs.score_today import build_score_today_job
from aurora_pipelines.settings import get_settings
from tests.factories import make_spec, resources_for

# No scoring.time_column: today's partition scores the whole current batch.
SPEC = make_spec(
    "score_today_exp", {"target": "y", "id_column": "id"}, scoring={"time_column": None}
)


def _definitions() -> dg.Definitions:
    assets = build_serving_assets(SPEC)
    target = dg.define_asset_job(
        f"{SPEC.name}__score_and_monitor",
        selection=dg.AssetSelection.assets(*assets),
        partitions_def=daily_partitions(),
    )
    return dg.Definitions(
        assets=assets,
        jobs=[target, build_score_today_job(SPEC, target=target.name)],
        resources=resources_for(get_settings()),
    )


defs = _definitions()
