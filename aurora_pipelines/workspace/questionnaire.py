"""The experiment questionnaire: what the model is for, answered once, stored with the spec.

The answers drive defaults (primary metric and its bar, class weights, the governance risk
fields) and appear on the model card. This module imports nothing of the spec so the spec
can hold a `Questionnaire`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The trainer's metrics (training/trainer.py), named here so the spec stays light to import.
METRICS = {
    "classification": ("roc_auc", "average_precision", "accuracy", "f1", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
LOSSES = ("log_loss", "rmse", "mae")
# A false negative costing this many times a false positive (or more) weights the classes.
CLASS_WEIGHT_COST_RATIO = 2.0

Automation = Literal["advisory", "human_review", "automated"]
Level = Literal["low", "medium", "high"]
Regulated = Literal[
    "credit_decision",
    "insurance_pricing",
    "employment",
    "capital_requirements",
    "anti_money_laundering",
    "other_regulated",
]


class Questionnaire(BaseModel):
    """Answers about the model's objective (`aurora experiments create`, `--answers FILE`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    business_objective: str = Field(
        min_length=3, max_length=500, description="What the business wants to achieve."
    )
    decision_supported: str = Field(
        min_length=3, max_length=500, description="The decision the model's output supports."
    )
    positive_class_meaning: str | None = Field(
        default=None, max_length=300, description="Classification: what a positive means."
    )
    cost_fn_vs_fp: float = Field(
        default=1.0,
        gt=0,
        le=1000,
        description="How many times a missed positive (false negative) costs a false alarm.",
    )
    success_metric: str | None = Field(
        default=None, description="Metric that says the model is good enough (e.g. f1, r2)."
    )
    success_threshold: float | None = Field(
        default=None, description="The value of success_metric the model must reach."
    )
    time_horizon_days: int = Field(
        default=30, ge=1, le=3650, description="How far ahead the model predicts, in days."
    )
    output_consumers: str = Field(
        min_length=2, max_length=300, description="Who or what consumes the output."
    )
    decision_automation: Automation = Field(
        default="advisory",
        description="advisory | human_review | automated: who acts on the output.",
    )
    materiality: Level = Field(default="medium", description="Impact of a wrong output.")
    personal_data: bool = Field(description="Does the model use data about natural persons?")
    regulatory_use: list[Regulated] = Field(
        default_factory=list, description="Regulated uses ([] for none)."
    )

    @field_validator("regulatory_use", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value in (None, "", "none"):
            return []
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @model_validator(mode="after")
    def _threshold_in_range(self) -> Questionnaire:
        known = {m for names in METRICS.values() for m in names}
        if self.success_metric is not None and self.success_metric not in known:
            raise ValueError(
                f"success_metric '{self.success_metric}' is not a metric Aurora computes "
                f"(known: {', '.join(sorted(known))})"
            )
        if self.success_threshold is not None and self.success_metric is None:
            raise ValueError("success_threshold needs success_metric (the metric it is for)")
        value, metric = self.success_threshold, self.success_metric
        if value is None or metric is None:
            return self
        if metric in LOSSES:
            if value <= 0:
                raise ValueError(f"success_threshold for {metric} must be > 0 (a loss)")
        elif metric == "roc_auc" and not 0.5 < value <= 1:
            raise ValueError("success_threshold for roc_auc must be in (0.5, 1]: 0.5 is chance")
        elif metric == "r2" and not value <= 1:
            raise ValueError("success_threshold for r2 must be at most 1")
        elif metric != "r2" and not 0 < value <= 1:
            raise ValueError(f"success_threshold for {metric} must be in (0, 1]")
        return self

    def check_problem_type(self, problem_type: str) -> None:
        """ValueError when the success metric is not one of `problem_type`'s."""
        if self.success_metric and self.success_metric not in METRICS.get(problem_type, ()):
            raise ValueError(
                f"success_metric '{self.success_metric}' is not a {problem_type} metric "
                f"(known: {', '.join(METRICS.get(problem_type, ()))})"
            )

    def training_defaults(self, problem_type: str) -> dict[str, Any]:
        """The spec's `training` fields these answers decide."""
        fields: dict[str, Any] = {}
        if self.success_metric:
            fields["primary_metric"] = self.success_metric
        if self.success_threshold is not None:
            fields["metric_min"] = self.success_threshold
        if problem_type == "classification" and self.cost_fn_vs_fp >= CLASS_WEIGHT_COST_RATIO:
            # Missing a positive is the costly error: weight the (rare) positives up.
            fields["class_weight"] = "balanced"
        return fields

    def governance_defaults(self) -> dict[str, Any]:
        """The spec's `governance` fields: intended use and the risk questionnaire."""
        return {
            "intended_use": (
                f"{self.business_objective} Supports: {self.decision_supported}. "
                f"Consumed by: {self.output_consumers}."
            ),
            "risk": {
                "materiality": self.materiality,
                "decision_automation": self.decision_automation,
                "personal_data": self.personal_data,
                "regulatory_use": list(self.regulatory_use),
            },
        }

    def as_markdown(self) -> str:
        """The answers as a Markdown list (model card, `experiments show`)."""
        labels = {
            name: (field.description or name) for name, field in type(self).model_fields.items()
        }
        lines = []
        for name, value in self.model_dump().items():
            if value is None or value == []:
                continue
            shown = ", ".join(value) if isinstance(value, list) else value
            lines.append(f"- **{name.replace('_', ' ')}** ({labels[name]}): {shown}")
        return "\n".join(lines)


# Prompt order and help for interactive `experiments create`.
QUESTIONS: list[tuple[str, str]] = [
    (name, field.description or name) for name, field in Questionnaire.model_fields.items()
]
