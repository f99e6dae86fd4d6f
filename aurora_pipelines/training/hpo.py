"""Hyperparameter search with Optuna: seeded TPE, median pruning per fold, resumable studies.

Each algorithm gets its own study. Trial 0 is always the estimator's default
configuration, so tuning can only match or improve on the untuned model. Every fold
reports the running mean of the primary metric; `MedianPruner` stops a trial whose
running mean is worse than the median of earlier trials at the same fold.

Studies live in a database (`storage`, an SQLAlchemy URL; Aurora uses SQLite under
AURORA_HOME). The study name includes a fingerprint of the data, the spec's training
settings and the search space, so a re-run with the same inputs resumes its study: trials
already finished count toward the trial budget, and a complete study runs no new trials
and returns the same best configuration. A trial left RUNNING by a process of this host that
is gone (a run worker killed mid-trial) is marked FAIL when the study resumes.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aurora_pipelines.errors import SpecError

# A trial's evaluation: pipeline params -> (per-metric fold scores, out-of-fold predictions).
# `report(step, value)` is called after each fold and may raise optuna.TrialPruned.
Evaluate = Callable[
    [dict[str, Any], Callable[[int, float], None] | None],
    tuple[dict[str, list[float]], np.ndarray],
]

FOLD_SCORES_ATTR = "fold_scores"
OWNER_ATTR = "aurora_owner"  # host:pid of the process running the trial
PROCESS_ATTR = "aurora_process:"  # + host:pid, a study attribute of every process searching it


@dataclass(frozen=True)
class HpoConfig:
    """Budget and persistence of the search; `n_trials=0` turns tuning off."""

    n_trials: int = 8
    timeout_seconds: float | None = 30.0
    pruning: bool = True
    storage: str | None = None  # SQLAlchemy URL; None keeps studies in memory
    study_prefix: str = "aurora"


@dataclass
class TrialRecord:
    """One Optuna trial, as logged to MLflow (a nested run per trial)."""

    algorithm: str
    number: int
    state: str  # COMPLETE, PRUNED or FAIL
    params: dict[str, Any]
    value: float | None
    folds: dict[str, list[float]] = field(default_factory=dict)
    # Running mean of the primary metric after each fold (what the pruner saw).
    intermediate: list[float] = field(default_factory=list)
    started_at: float | None = None  # epoch seconds
    duration_seconds: float | None = None


@dataclass
class SearchOutcome:
    """The best configuration of one algorithm and the evidence for it."""

    params: dict[str, Any]
    scores: dict[str, list[float]]
    oof: np.ndarray
    trials: list[TrialRecord]
    study_name: str | None = None
    base_oof: np.ndarray | None = None  # trial 0's (the defaults') out-of-fold predictions


def check_search_space(algorithm: str, space: dict[str, dict[str, Any]]) -> None:
    """SpecError naming the parameter when a search space entry is malformed."""
    for name, entry in space.items():
        kind = entry.get("type")
        where = f"search space of '{algorithm}', parameter '{name}'"
        if kind in ("float", "int"):
            low, high = entry.get("low"), entry.get("high")
            if low is None or high is None or low > high:
                raise SpecError(f"{where}: needs `low` <= `high`; fix `training.search_spaces`")
            if entry.get("log") and low <= 0:
                raise SpecError(f"{where}: a log scale needs `low` > 0")
        elif kind == "categorical":
            if not entry.get("choices"):
                raise SpecError(f"{where}: a categorical parameter needs `choices`")
        else:
            raise SpecError(f"{where}: `type` must be float, int or categorical (got {kind!r})")


def default_params(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The configuration tried first: each parameter's `default`, when it lies in the space."""
    params = {}
    for name, entry in space.items():
        if "default" not in entry:
            continue
        value = entry["default"]
        if entry["type"] == "categorical":
            if value in entry["choices"]:
                params[name] = value
        elif entry["low"] <= value <= entry["high"]:
            params[name] = value
    return params


def sample_params(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, entry in space.items():
        if entry["type"] == "float":
            params[name] = trial.suggest_float(
                name, entry["low"], entry["high"], log=bool(entry.get("log"))
            )
        elif entry["type"] == "int":
            params[name] = trial.suggest_int(
                name, int(entry["low"]), int(entry["high"]), log=bool(entry.get("log"))
            )
        else:
            params[name] = trial.suggest_categorical(name, entry["choices"])
    return params


def fingerprint(X: pd.DataFrame, y: pd.Series, settings: dict[str, Any]) -> str:
    """A short digest of the training rows and the settings that shape a study."""
    digest = hashlib.sha256()
    try:
        frame = pd.concat([X, y], axis=1)
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    except TypeError:  # unhashable cells (e.g. mixed objects): fall back to their text
        digest.update(pd.concat([X, y], axis=1).astype(str).to_csv(index=False).encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def _storage(url: str | None) -> Any:
    if url is None:
        return None
    import optuna

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})


def tune(
    algorithm: str,
    space: dict[str, dict[str, Any]],
    evaluate: Evaluate,
    *,
    primary: str,
    greater_is_better: bool,
    config: HpoConfig,
    seed: int,
    study_key: str,
    timeout_seconds: float | None,
) -> SearchOutcome:
    """Search `space` for `algorithm`; returns the best trial's params, fold scores and OOF."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study_name = f"{config.study_prefix}:{algorithm}:{study_key}"
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1)
        if config.pruning
        else optuna.pruners.NopPruner()
    )
    study = optuna.create_study(
        study_name=study_name,
        storage=_storage(config.storage),
        load_if_exists=True,
        direction="maximize" if greater_is_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=4),
        pruner=pruner,
    )
    _fail_orphaned_trials(study)
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    done = [t for t in study.get_trials(deepcopy=False) if t.state in finished]
    if not done:
        study.enqueue_trial(default_params(space))
    oof_by_trial: dict[int, np.ndarray] = {}

    def objective(trial: Any) -> float:
        trial.set_user_attr(OWNER_ATTR, _owner())
        params = sample_params(trial, space)

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        scores, oof = evaluate(params, report)
        trial.set_user_attr(FOLD_SCORES_ATTR, scores)
        oof_by_trial[trial.number] = oof
        return float(np.mean(scores[primary]))

    remaining = config.n_trials - len(done)
    if remaining > 0:
        study.set_user_attr(PROCESS_ATTR + _owner(), time.time())
        study.optimize(objective, n_trials=remaining, timeout=timeout_seconds, catch=())
    complete = [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]
    best = min(complete, key=lambda t: (-t.value if greater_is_better else t.value, t.number))
    oof = oof_by_trial.get(best.number)
    if oof is None:
        # The best trial ran in an earlier (resumed) process: recompute its predictions.
        _, oof = evaluate(dict(best.params), None)
    return SearchOutcome(
        params=dict(best.params),
        scores=best.user_attrs[FOLD_SCORES_ATTR],
        oof=oof,
        trials=[_record(algorithm, t) for t in study.get_trials(deepcopy=False)],
        study_name=study_name,
        base_oof=oof_by_trial.get(0),
    )


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _dead_here(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))


def _fail_orphaned_trials(study: Any) -> None:
    """Mark FAIL the trials a dead process of this host left RUNNING: they will never finish,
    and a resumed study must neither wait for them nor report them as running. A trial killed
    before it recorded its owner is orphaned when every process that searched the study is a
    dead one of this host. (Another host's process may be alive: its trials are left alone.)"""
    import optuna

    searchers = [
        k.removeprefix(PROCESS_ATTR) for k in study.user_attrs if k.startswith(PROCESS_ATTR)
    ]
    all_dead = bool(searchers) and all(_dead_here(owner) for owner in searchers)
    running = optuna.trial.TrialState.RUNNING
    for trial in study.get_trials(deepcopy=False, states=(running,)):
        owner = trial.user_attrs.get(OWNER_ATTR)
        if _dead_here(str(owner)) if owner else all_dead:
            # FrozenTrial exposes no public id; the storage API takes the internal one.
            study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def _record(algorithm: str, trial: Any) -> TrialRecord:
    started = trial.datetime_start.timestamp() if trial.datetime_start else None
    duration = trial.duration.total_seconds() if trial.duration else None
    return TrialRecord(
        algorithm=algorithm,
        number=trial.number,
        state=trial.state.name,
        params=dict(trial.params),
        value=float(trial.value) if trial.value is not None else None,
        folds=dict(trial.user_attrs.get(FOLD_SCORES_ATTR, {})),
        intermediate=[float(v) for _, v in sorted(trial.intermediate_values.items())],
        started_at=started,
        duration_seconds=duration,
    )


def untuned(
    algorithm: str, evaluate: Evaluate, params: dict[str, Any], primary: str
) -> SearchOutcome:
    """One plain CV of the default configuration, recorded as a single trial."""
    started = time.time()
    scores, oof = evaluate(params, None)
    record = TrialRecord(
        algorithm=algorithm,
        number=0,
        state="COMPLETE",
        params=params,
        value=float(np.mean(scores[primary])),
        folds=scores,
        started_at=started,
        duration_seconds=time.time() - started,
    )
    return SearchOutcome(params=params, scores=scores, oof=oof, trials=[record])
