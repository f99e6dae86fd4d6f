"""Links people click in asset metadata: the MLflow run, the approval request's page on the
checkers' site and the HTML reports.

Added to every stage asset's materialization and check results by `stage_asset`, from the
values the engine already reports (`mlflow_run_id` with `mlflow_experiment_id`,
`approval_request_id`, paths to `.html` files), so no asset has to remember them. The web
addresses come from Settings (AURORA_MLFLOW_UI_URL, AURORA_GOVERNANCE_UI_URL), read at
materialization time: the code location's deployment says where its UIs are.
"""

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from aurora_pipelines.settings import get_settings

MLFLOW_RUN = "mlflow_run"
GOVERNANCE_REQUEST = "governance_request"
URL_SUFFIX = "_url"  # `report` (a path) gets `report_url` (a link)


def _plain(value: Any) -> Any:
    """The Python value behind a MetadataValue (results carry both, checks only the latter)."""
    return value.value if isinstance(value, dg.MetadataValue) else value


def mlflow_run_url(base: str, experiment_id: str, run_id: str) -> str:
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def governance_request_url(base: str, request_id: Any) -> str:
    return f"{base.rstrip('/')}/requests/{request_id}"


def link_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """`metadata` plus its links; a key already there is never overwritten."""
    settings = get_settings()
    links: dict[str, dg.MetadataValue] = {}
    run_id = _plain(metadata.get("mlflow_run_id"))
    experiment_id = _plain(metadata.get("mlflow_experiment_id"))
    if run_id and experiment_id is not None:
        links[MLFLOW_RUN] = dg.MetadataValue.url(
            mlflow_run_url(settings.mlflow_ui_url, str(experiment_id), str(run_id))
        )
    request_id = _plain(metadata.get("approval_request_id"))
    if request_id is not None and request_id != "":
        links[GOVERNANCE_REQUEST] = dg.MetadataValue.url(
            governance_request_url(settings.governance_ui_url, request_id)
        )
    for name, value in metadata.items():
        path = value.fspath if isinstance(value, dg.PathMetadataValue) else value
        if isinstance(value, dg.PathMetadataValue | Path) and str(path).endswith(".html"):
            # file:// so it opens without a server; the path stays next to it to copy.
            links[name + URL_SUFFIX] = dg.MetadataValue.url(Path(path).resolve().as_uri())
    return {**{k: v for k, v in links.items() if k not in metadata}, **metadata}


def _linked(event: Any) -> Any:
    if isinstance(event, dg.MaterializeResult):
        return event._replace(
            metadata=link_metadata(event.metadata or {}),
            check_results=[_linked(c) for c in event.check_results or []],
        )
    if isinstance(event, dg.AssetMaterialization | dg.AssetCheckResult):
        return event._replace(metadata=link_metadata(event.metadata or {}))
    return event


def with_links(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`'s results (returned or yielded) with their links; the signature is kept."""
    import functools
    import inspect

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for event in fn(*args, **kwargs):
                yield _linked(event)

        return stream

    @functools.wraps(fn)
    def step(*args: Any, **kwargs: Any) -> Any:
        return _linked(fn(*args, **kwargs))

    return step
