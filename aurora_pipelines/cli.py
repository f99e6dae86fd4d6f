"""`aurora`: the command line for data scientists, approvers and auditors.

This module only wires the command modules of aurora_pipelines/commands/ into one app and runs
it. The caller's identity comes from a personal token (`aurora login`, AURORA_TOKEN), or from
AURORA_USER under a policy with `identity: trust_env`. Errors a user can cause print as one line
(`error: ...`) and exit 1; `--debug` shows the traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from aurora_pipelines.commands import (
    approvals,
    audit,
    deploy,
    drift,
    experiments,
    governance_report,
    login,
    models,
    pipeline,
    serve,
)
from aurora_pipelines.commands.common import print_error
from aurora_pipelines.commands.governance_api import governance_app, tokens_app
from aurora_pipelines.commands.sources import register as register_data_access
from aurora_pipelines.errors import AuroraError

app = typer.Typer(
    help="Aurora: governed ML lifecycle on Dagster, Spark, Delta, dbt and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("login")(login.login)
app.command("logout")(login.logout)
app.command("whoami")(login.whoami)
app.add_typer(experiments.app, name="experiments")
app.add_typer(approvals.app, name="approvals")
app.add_typer(audit.app, name="audit")
app.add_typer(tokens_app, name="tokens")
app.add_typer(governance_app, name="governance")
governance_app.command("report")(governance_report.report)
app.add_typer(deploy.app, name="deploy")
app.add_typer(models.app, name="models")
app.command("drift")(drift.drift)
app.command("serve")(serve.serve)
pipeline.register(app)
register_data_access(app)  # sources, query, queries, runs


def main(argv: list[str] | None = None) -> Any:
    """Entry point: one-line errors, tracebacks with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # Imported here: the structured log is this module's only addition for operations.
    from aurora_pipelines.commands.logs import cli_log_context

    with cli_log_context(app, args):
        return _run(args, debug)


def _run(args: list[str], debug: bool) -> Any:
    from aurora_pipelines.commands.logs import log_refusal
    from aurora_pipelines.errors import is_no_space, storage_full

    try:
        code = app(args=args, prog_name="aurora", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
        return code
    except AuroraError as exc:
        if debug:
            raise
        print_error(str(exc))
        log_refusal(str(exc))
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.TyperException as exc:
        # Usage errors (unknown command, bad option value, missing argument) print as typer
        # prints them. Typer vendors click, so these are not `click.ClickException`s.
        from typer.rich_utils import rich_format_error

        rich_format_error(exc)
        sys.exit(exc.exit_code)
    except Exception as exc:
        # A full disk is the user's to fix, not a bug: one line naming the path.
        if debug or not is_no_space(exc):
            raise
        message = str(storage_full(getattr(exc, "filename", None) or "AURORA_HOME", "a file"))
        print_error(message)
        log_refusal(message)
        sys.exit(1)


if __name__ == "__main__":
    main()
