"""How `aurora run` classifies failed checks: only a blocking check is a gate."""

import dagster as dg

from aurora_pipelines.defs.runner import failed_checks


def test_a_non_blocking_error_check_is_an_alert_not_a_gate():
    @dg.asset(
        check_specs=[
            dg.AssetCheckSpec("gate", asset="scored", blocking=True),
            dg.AssetCheckSpec("alert", asset="scored"),
            dg.AssetCheckSpec("note", asset="scored"),
        ]
    )
    def scored():
        yield dg.Output(1)
        yield dg.AssetCheckResult(check_name="gate", passed=False)
        yield dg.AssetCheckResult(
            check_name="alert", passed=False, severity=dg.AssetCheckSeverity.ERROR
        )
        yield dg.AssetCheckResult(
            check_name="note", passed=False, severity=dg.AssetCheckSeverity.WARN
        )

    defs = dg.Definitions(assets=[scored])
    result = dg.materialize([scored], raise_on_error=False)
    found = {c.check: (c.blocking, c.severity) for c in failed_checks(defs, result)}
    assert found == {"gate": (True, "ERROR"), "alert": (False, "ERROR"), "note": (False, "WARN")}
