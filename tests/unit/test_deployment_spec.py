"""The spec's `deployment` section: optional, defaults, and refused canary schedules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aurora_pipelines.settings import REPO_DIR
from aurora_pipelines.specs import CanarySpec, DeploymentSpec, load_spec


def test_specs_without_a_deployment_section_get_blue_green_defaults():
    spec = load_spec(REPO_DIR / "experiments" / "credit_default.yaml")
    data = spec.model_dump(exclude={"deployment"})
    bare = type(spec).model_validate(data)
    assert bare.deployment == DeploymentSpec()
    assert bare.deployment.strategy == "blue_green"
    assert bare.deployment.canary.steps == [0.1, 0.25, 0.5, 1.0]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([0.5, 0.1, 1.0], "strictly increasing"),
        ([0.1, 0.5], "must end with 1.0"),
        ([0.0, 1.0], "strictly increasing"),
    ],
)
def test_canary_schedules_must_increase_to_one(steps, message):
    with pytest.raises(ValidationError, match=message):
        CanarySpec(steps=steps)


def test_unknown_strategy_is_refused():
    with pytest.raises(ValidationError, match="blue_green"):
        DeploymentSpec(strategy="big_bang")
