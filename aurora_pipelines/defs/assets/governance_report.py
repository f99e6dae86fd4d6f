"""governance/report: the model inventory and approval analytics, refreshed every day.

One asset for the whole platform (not per experiment): it reads the governance database only
(governance/report.py) and writes report.html and report.json under
`$AURORA_HOME/reports/governance/`, the same report `aurora governance report` prints.
"""

from pathlib import Path

import dagster as dg

from aurora_pipelines.defs.assets.metadata import to_metadata
from aurora_pipelines.defs.resources import GovernanceResource, LakeResource

REPORT_KEY = dg.AssetKey(["governance", "report"])
REPORT_JOB = "governance_report"
# 05:00 UTC: before the 06:00 scoring runs, so the morning report shows yesterday complete.
REPORT_CRON = "0 5 * * *"


def build_governance_report_asset(experiments_dir: Path) -> dg.AssetsDefinition:
    @dg.asset(
        key=REPORT_KEY,
        group_name="governance",
        kinds={"sqlite", "html"},
        description="Model inventory (tier, owner, champion, last validation, next "
        "revalidation, open findings), time to decision per gate and tier, rejection rates, "
        "overdue revalidations and access denials per week.",
        owners=["team:model_risk"],
    )
    def governance_report(
        governance: GovernanceResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        from aurora_pipelines.governance.report import build_report, spec_owners, write_report

        report = build_report(governance.store(), owners=spec_owners(experiments_dir))
        files = write_report(report, lake.layout.reports_dir / "governance")
        return dg.MaterializeResult(metadata=to_metadata(report.as_metadata(files)))

    return governance_report


def governance_report_definitions(experiments_dir: Path) -> dg.Definitions:
    """The report asset, its job and the daily schedule that refreshes it (on by default)."""
    job = dg.define_asset_job(REPORT_JOB, selection=dg.AssetSelection.keys(REPORT_KEY))
    return dg.Definitions(
        assets=[build_governance_report_asset(experiments_dir)],
        jobs=[job],
        schedules=[
            dg.ScheduleDefinition(
                name=f"{REPORT_JOB}_daily",
                job=job,
                cron_schedule=REPORT_CRON,
                execution_timezone="UTC",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Refreshes governance/report every morning.",
            )
        ],
    )
