"""`stage_asset`: `dg.asset` for one lifecycle stage of an experiment.

Every stage asset takes its key, group and owner from the spec the same way; one decorator
keeps them so (a new stage cannot land in another group or without its team as owner).
"""

from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.links import with_links
from aurora_pipelines.defs.retries import retry_policy_for
from aurora_pipelines.defs.step_logs import observed
from aurora_pipelines.specs import ExperimentSpec


def stage_asset(
    spec: ExperimentSpec,
    stage: lifecycle.Stage,
    *,
    deps: Sequence[lifecycle.Stage] = (),
    **asset_kwargs: Any,
) -> Callable[..., dg.AssetsDefinition]:
    """`dg.asset` keyed `spec.key(*stage)`, depending on the `deps` stages of the same spec,
    in the spec's group and owned by its team; `asset_kwargs` go to `dg.asset` as they are.
    Its materializations get their links (assets/links.py)."""
    if deps:
        asset_kwargs["deps"] = [spec.key(*dep) for dep in deps]
    asset_kwargs.setdefault("retry_policy", retry_policy_for(stage))
    decorator = dg.asset(
        key=dg.AssetKey(spec.key(*stage)),
        group_name=spec.name,
        owners=[f"team:{spec.team}"],
        **asset_kwargs,
    )

    def build(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        return decorator(observed(with_links(fn), spec.name, "/".join(stage)))

    return build
