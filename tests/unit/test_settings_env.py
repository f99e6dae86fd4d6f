"""Settings read AURORA_* as pydantic-settings did: keyword arguments first, then the
environment (any case), then the defaults; other AURORA_ variables are ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_pipelines.settings import Settings


def test_keyword_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("AURORA_HOME", str(tmp_path / "env-home"))
    monkeypatch.setenv("aurora_user", "ds_alice")  # any case, as BaseSettings read it
    monkeypatch.setenv("AURORA_NOT_A_FIELD", "ignored")
    monkeypatch.delenv("AURORA_SPARK_MASTER", raising=False)

    from_env = Settings()
    explicit = Settings(home=tmp_path / "kw-home", user=None)

    assert (from_env.home, from_env.user) == (tmp_path / "env-home", "ds_alice")
    assert from_env.spark_master == "local[2]"
    assert (explicit.home, explicit.user) == (tmp_path / "kw-home", None)
    assert not hasattr(from_env, "not_a_field")
