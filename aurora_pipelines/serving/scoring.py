"""The scoring engine behind the HTTP service: route, validate, score, fall back, log.

Kept free of HTTP so it can be driven and tested on its own; `service.py` adapts it to
FastAPI. The request path touches only in-memory state (routing state, loaded models) and
hands log rows to the background writer; MLflow and the governance store are called from
background threads only.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from aurora_pipelines.deploy.routing import CHALLENGER, CHAMPION, FALLBACK, SHADOW, RoutingState
from aurora_pipelines.serving.log_writer import PredictionLogWriter, to_micros
from aurora_pipelines.serving.metrics import ServiceMetrics
from aurora_pipelines.serving.models import LoadedModel, ModelPool
from aurora_pipelines.serving.router import Router
from aurora_pipelines.serving.validation import (
    RequestInvalid,
    parse_body,
    to_frame,
    validate_records,
)

log = logging.getLogger(__name__)
AUDIT_ACTOR = "aurora-serve"
FALLBACK_EVENT = "serving.fallback"
MAX_SHADOW_BACKLOG = 2000  # requests waiting for shadow scoring; beyond it shadow skips some

# Who answers when the routed role cannot, in order.
_CHAIN = {
    CHAMPION: (CHAMPION, FALLBACK),
    CHALLENGER: (CHALLENGER, CHAMPION, FALLBACK),
}

Auditor = Callable[[str, str, dict[str, Any]], None]  # (event, target, details)


class Unavailable(Exception):
    """No model version can answer (503)."""


@dataclass
class ServiceConfig:
    """What the service serves and its limits."""

    tracking_uri: str
    lake_dir: Path
    experiments: dict[str, str | None]  # experiment -> its id column (entity id), if any
    reports_dir: Path | None = None
    poll_interval: float = 0.5
    max_records: int = 1000
    max_body_bytes: int = 1_048_576
    max_explain_records: int = 20
    # Each flush is one Delta commit: batch enough that the log does not pile up versions.
    log_flush_rows: int = 5000
    log_flush_ms: int = 2000
    auditor: Auditor | None = field(default=None, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Any, experiments: list[str] | None = None, **limits: Any
    ) -> ServiceConfig:
        """Serve `experiments` (default: every spec in the experiments dir), audit to governance."""
        from aurora_pipelines.governance.store import GovernanceStore
        from aurora_pipelines.specs import find_spec, load_specs

        if experiments:
            specs = {}
            for name in experiments:
                try:
                    specs[name] = find_spec(settings.experiments_dir, name).id_column
                except Exception:  # a model registered without a spec file still serves
                    specs[name] = None
        else:
            specs = {s.name: s.id_column for s in load_specs(settings.experiments_dir)}
        store = GovernanceStore.from_settings(settings)

        def audit(event: str, target: str, details: dict[str, Any]) -> None:
            store.audit(event, AUDIT_ACTOR, target, details)

        return cls(
            tracking_uri=settings.tracking_uri,
            lake_dir=settings.lake_dir,
            experiments=specs,
            reports_dir=settings.reports_dir,
            auditor=audit,
            **limits,
        )


@dataclass
class _Group:
    """Records routed to one role, and who ends up answering them."""

    role: str
    indices: list[int]
    answered_by: str | None = None
    model: LoadedModel | None = None


class ScoringService:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.metrics = ServiceMetrics()
        self.pool = ModelPool(config.tracking_uri, config.reports_dir)
        self.router = Router(
            config.tracking_uri, list(config.experiments), self.pool, interval=config.poll_interval
        )
        self.writer = PredictionLogWriter(
            config.lake_dir, flush_rows=config.log_flush_rows, flush_ms=config.log_flush_ms
        )
        # Shadow scoring and audit writes: off the response path, in order.
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serve-bg")
        self._audited: set[tuple[str, ...]] = set()
        # Each counter has one writer thread (request path / background), so no lock needed.
        self._shadow_submitted = 0
        self._shadow_done = 0
        self.metrics.log_rows.set_function(lambda: self.writer.rows_written)
        self.metrics.log_failures.set_function(lambda: self.writer.failed_batches)

    # lifecycle

    def start(self) -> None:
        self.writer.start()
        self.router.start()

    def stop(self) -> None:
        """Stop polling, finish shadow work and audits, then flush the prediction log."""
        self.router.stop()
        self.background.shutdown(wait=True)
        self.writer.close()

    # requests

    def state(self, experiment: str) -> RoutingState:
        state = self.router.states.get(experiment)
        if state is None:
            served = ", ".join(sorted(self.config.experiments)) or "none"
            raise RequestInvalid(
                404,
                f"unknown experiment '{experiment}'; this service serves: {served} "
                f"(restart with `aurora serve --experiment {experiment}` to add it)",
            )
        return state

    def predict(self, experiment: str, body: bytes, request_id: str) -> dict[str, Any]:
        state = self.state(experiment)
        records = parse_body(
            body, max_records=self.config.max_records, max_bytes=self.config.max_body_bytes
        )
        groups = self._route(experiment, state, records)
        ts = datetime.now(UTC)
        predictions: list[Any] = [None] * len(records)
        rows: list[tuple[Any, ...]] = []
        id_column = self.config.experiments.get(experiment)
        for group in groups:
            self._answer(experiment, state, group, records, predictions, rows, request_id, ts)
        self.writer.put(rows)
        versions = sorted({p["model_version"] for p in predictions})
        if state.shadow:
            if self._shadow_submitted - self._shadow_done < MAX_SHADOW_BACKLOG:
                self._shadow_submitted += 1
                self.background.submit(
                    self._shadow, experiment, state.shadow, records, id_column, request_id, ts
                )
            else:  # shadow work must never grow without bound behind live traffic
                self.metrics.shadow_dropped.labels(experiment).inc()
        return {
            "model_version": versions[0] if len(versions) == 1 else ",".join(versions),
            "request_id": request_id,
            "predictions": predictions,
        }

    def explain(self, experiment: str, body: bytes, request_id: str) -> dict[str, Any]:
        from aurora_pipelines.explain.shap_values import explain_record

        state = self.state(experiment)
        records = parse_body(
            body,
            max_records=self.config.max_explain_records,
            max_bytes=self.config.max_body_bytes,
        )
        explanations: list[Any] = [None] * len(records)
        versions = set()
        for group in self._route(experiment, state, records):
            model = self._resolve(experiment, state, group)
            subset = [records[i] for i in group.indices]
            validate_records(subset, model.schema)
            frame = to_frame(subset, model.schema)
            background = model.background()[model.schema.names]
            for k, index in enumerate(group.indices):
                result = explain_record(model.model, frame.iloc[[k]], background)
                explanations[index] = {**result, "model_version": model.version}
            versions.add(model.version)
        ordered = sorted(versions)
        return {
            "model_version": ordered[0] if len(ordered) == 1 else ",".join(ordered),
            "request_id": request_id,
            "explanations": explanations,
        }

    def health(self) -> dict[str, Any]:
        experiments = {}
        degraded = False
        for name, state in self.router.states.items():
            roles = {r: state.version_for(r) for r in (CHAMPION, CHALLENGER, FALLBACK, SHADOW)}
            errors = {
                v: self.pool.error(name, v)
                for v in roles.values()
                if v and self.pool.error(name, v)
            }
            can_answer = any(
                v and self.pool.get(name, v) for v in (roles[CHAMPION], roles[FALLBACK])
            )
            degraded |= bool(errors) or not can_answer
            experiments[name] = {
                **roles,
                "challenger_share": state.challenger_share,
                "can_answer": bool(can_answer),
                "load_errors": errors,
            }
        # pid: which process answered, when `aurora serve --workers N` runs several.
        return {
            "status": "degraded" if degraded else "ok",
            "pid": os.getpid(),
            "experiments": experiments,
        }

    # internals

    def _route(self, experiment: str, state: RoutingState, records: list[Any]) -> list[_Group]:
        id_column = self.config.experiments.get(experiment)
        if not (state.challenger and state.challenger_share > 0):
            return [_Group(CHAMPION, list(range(len(records))))]
        draw = random.random()
        by_role: dict[str, list[int]] = {}
        for i, record in enumerate(records):
            entity = _entity_id(record, id_column)
            by_role.setdefault(Router.role_for(state, entity, draw), []).append(i)
        return [_Group(role, indices) for role, indices in by_role.items()]

    def _resolve(
        self, experiment: str, state: RoutingState, group: _Group, skip: set[str] | None = None
    ) -> LoadedModel:
        """The first role in the group's chain with a loaded model; records fallback events."""
        for role in _CHAIN[group.role]:
            if skip and role in skip:
                continue
            version = state.version_for(role)
            model = self.pool.get(experiment, version) if version else None
            if model is not None:
                group.answered_by, group.model = role, model
                return model
            if role in (CHAMPION, CHALLENGER):
                reason = self.pool.error(experiment, version) if version else f"no {role} alias set"
                self._fallback_event(experiment, role, version, "load_failed", reason or "")
        raise Unavailable(
            f"no model version of '{experiment}' can answer: "
            + "; ".join(
                f"{r}={state.version_for(r) or 'unset'}"
                + (
                    f" ({self.pool.error(experiment, state.version_for(r))})"
                    if state.version_for(r) and self.pool.error(experiment, state.version_for(r))
                    else ""
                )
                for r in _CHAIN[group.role]
            )
            + ". Set the `champion` or `fallback` alias to a loadable version "
            "(`aurora deploy promote` / `rollback`)"
        )

    def _answer(
        self,
        experiment: str,
        state: RoutingState,
        group: _Group,
        records: list[Any],
        predictions: list[Any],
        rows: list[tuple[Any, ...]],
        request_id: str,
        ts: datetime,
    ) -> None:
        subset = [records[i] for i in group.indices]
        tried: set[str] = set()
        while True:
            model = self._resolve(experiment, state, group, skip=tried)
            validate_records(subset, model.schema)  # a client error: no fallback for it
            started = time.perf_counter()
            error: Exception | None = None
            try:
                out, scores, labels = model.score_records(subset)
            except Exception as exc:
                out, scores, labels, error = [], None, None, exc
            latency = (time.perf_counter() - started) * 1000
            role = group.answered_by or group.role
            # served=True: the role was on the live path (only shadow rows are False), so
            # the canary controller counts an error against the role's error rate.
            rows.extend(
                self._rows(
                    experiment,
                    model,
                    role,
                    True,
                    subset,
                    group.indices,
                    scores,
                    labels,
                    latency,
                    request_id,
                    ts,
                    error=None if error is None else f"{type(error).__name__}: {error}",
                )
            )
            if error is not None:
                self._fallback_event(experiment, role, model.version, "error", str(error))
                tried.add(role)
                continue
            for k, index in enumerate(group.indices):
                predictions[index] = out[k]
            self.metrics.predictions.labels(experiment, role, model.version, "true").inc(
                len(subset)
            )
            return

    def _rows(
        self,
        experiment: str,
        model: LoadedModel,
        role: str,
        served: bool,
        records: list[dict[str, Any]],
        indices: list[int],
        scores: list[float] | None,
        labels: list[float] | None,
        latency_ms: float,
        request_id: str,
        ts: datetime,
        error: str | None = None,
    ) -> list[tuple[Any, ...]]:
        # Rows as tuples in PREDICTION_LOG_SCHEMA order, not dicts: the writer thread turns
        # them into columns with one zip(*rows) instead of a Python loop per column, which
        # was most of its share of the GIL (BENCHMARKS.md, serving_profile_gil).
        id_column = self.config.experiments.get(experiment)
        names = model.schema.names
        day = ts.strftime("%Y-%m-%d")
        micros = to_micros(ts)
        status = "error" if error else "ok"
        return [
            (
                request_id,
                index,
                _entity_id(record, id_column),
                experiment,
                model.name,
                model.version,
                role,
                served,
                status,
                error,
                scores[k] if scores is not None else None,
                labels[k] if labels is not None else None,
                latency_ms,
                orjson.dumps({n: record.get(n) for n in names}).decode(),
                micros,
                day,
            )
            for k, (index, record) in enumerate(zip(indices, records, strict=True))
        ]

    def _shadow(
        self,
        experiment: str,
        version: str,
        records: list[dict[str, Any]],
        id_column: str | None,
        request_id: str,
        ts: datetime,
    ) -> None:
        try:
            self._score_shadow(experiment, version, records, request_id, ts)
        finally:
            self._shadow_done += 1

    def _score_shadow(
        self,
        experiment: str,
        version: str,
        records: list[dict[str, Any]],
        request_id: str,
        ts: datetime,
    ) -> None:
        model = self.pool.get(experiment, version)
        if model is None:
            return
        indices = list(range(len(records)))
        started = time.perf_counter()
        error: str | None = None
        scores = labels = None
        try:
            validate_records(records, model.schema)
            _, scores, labels = model.score_records(records)
        except Exception as exc:
            error = (
                exc.reason if isinstance(exc, RequestInvalid) else f"{type(exc).__name__}: {exc}"
            )
        latency = (time.perf_counter() - started) * 1000
        self.writer.put(
            self._rows(
                experiment,
                model,
                SHADOW,
                False,
                records,
                indices,
                scores,
                labels,
                latency,
                request_id,
                ts,
                error=error,
            )
        )
        if error is not None:
            return
        self.metrics.predictions.labels(experiment, SHADOW, version, "false").inc(len(records))

    def _fallback_event(
        self, experiment: str, role: str, version: str | None, kind: str, reason: str
    ) -> None:
        """Count and log every fallback; audit each distinct failure once (off the request path)."""
        self.metrics.fallbacks.labels(experiment, role, kind).inc()
        key = (experiment, role, version or "", kind)
        if key in self._audited:
            return
        self._audited.add(key)
        log.warning(
            "%s %s v%s cannot answer (%s: %s); falling back",
            experiment,
            role,
            version,
            kind,
            reason,
        )
        if self.config.auditor is not None:
            details = {"role": role, "version": version, "kind": kind, "reason": reason[:500]}
            self.background.submit(
                self._audit, FALLBACK_EVENT, f"model:{experiment}:{version or role}", details
            )

    def _audit(self, event: str, target: str, details: dict[str, Any]) -> None:
        try:
            assert self.config.auditor is not None
            self.config.auditor(event, target, details)
        except Exception:
            log.exception("could not audit %s on %s", event, target)


def _entity_id(record: Any, id_column: str | None) -> str | None:
    if not id_column or not isinstance(record, dict):
        return None
    value = record.get(id_column)
    return None if value is None else str(value)
