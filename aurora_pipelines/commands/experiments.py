"""`aurora experiments ...`: create (questionnaire, templates), list/search, show, history,
edit, share, clone, archive and health of experiment specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.table import Table

from aurora_pipelines.commands.common import (
    acting,
    acting_settings,
    console,
    get_settings,
    governance_store,
)
from aurora_pipelines.errors import SpecError

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.workspace.store import WorkspaceStore

app = typer.Typer(help="Create, find, share and version experiment specs.", no_args_is_help=True)


def _workspace(settings: Settings) -> WorkspaceStore:
    from aurora_pipelines.workspace.store import WorkspaceStore

    return WorkspaceStore(governance_store(settings))


def _read_answers(path: Path) -> dict[str, Any]:
    try:
        answers = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"answers file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"answers file {path} is not valid YAML: {exc}") from None
    if not isinstance(answers, dict):
        raise SpecError(f"answers file {path} must be a mapping of question: answer")
    return answers


def _ask_questionnaire() -> dict[str, Any]:
    """Prompt for each question (Enter keeps a default); validated afterwards as a whole."""
    from aurora_pipelines.workspace.questionnaire import QUESTIONS, Questionnaire

    console.print("[bold]Questionnaire[/bold] (stored with the spec; drives its defaults)")
    answers: dict[str, Any] = {}
    fields = Questionnaire.model_fields
    for name, question in QUESTIONS:
        default = fields[name].default
        shown = None if default is None or callable(default) else default
        if fields[name].default_factory is not None:
            shown = ""
        if fields[name].annotation is bool:
            answers[name] = typer.confirm(question, default=False)
            continue
        value = typer.prompt(f"{question} [{name}]", default=shown if shown is not None else "")
        if value not in ("", None):
            answers[name] = value
    return answers


@app.command("create")
def experiments_create(
    name: Annotated[str, typer.Argument(help="Experiment name (lower_snake_case).")],
    source: Annotated[str, typer.Option(help="CSV/Parquet file, Delta dir, or database.table.")],
    target: Annotated[
        str | None, typer.Option(help="Target column (default: the template's).")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Owning team (default: caller's team).")] = None,
    problem: Annotated[
        str | None,
        typer.Option(
            help="classification, regression, clustering, dimensionality_reduction or "
            "anomaly_detection (the last three take no --target)."
        ),
    ] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            help="A further unsupervised task beside --problem (repeatable), e.g. --task "
            "clustering: its own asset group and registered model NAME_<task>."
        ),
    ] = None,
    id_column: Annotated[str | None, typer.Option(help="Row identifier column.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Event-time column.")] = None,
    answers: Annotated[
        Path | None, typer.Option(help="Questionnaire answers (YAML), for scripts.")
    ] = None,
    questionnaire: Annotated[
        bool, typer.Option(help="Ask the questionnaire interactively (when no --answers).")
    ] = False,
    template: Annotated[
        str | None, typer.Option(help="Start from a template: credit_scoring|churn|segmentation.")
    ] = None,
    dbt_project: Annotated[
        Path | None,
        typer.Option(help="dbt project for the scaffolds (default: AURORA_DBT_PROJECT_DIR)."),
    ] = None,
    description: Annotated[str, typer.Option(help="One-line description (searchable).")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="Search tag (repeatable).")] = None,
) -> None:
    """Write experiments/NAME.yaml (and its dbt models) after checking the source, target and
    questionnaire; the spec's version 1 is recorded."""
    from aurora_pipelines.experiments import create_experiment
    from aurora_pipelines.workspace.manage import template_data

    base = template_data(template) if template else {}
    given = _read_answers(answers) if answers else (_ask_questionnaire() if questionnaire else None)
    if base.get("questionnaire"):
        given = {**base.pop("questionnaire"), **(given or {})}
    if base:
        base["origin"] = {"kind": "template", "name": template}
    chosen_target = target or base.pop("target", None)
    base.pop("target", None)
    kind = problem or base.pop("problem_type", "classification")
    base.pop("problem_type", None)
    if not chosen_target and kind in ("classification", "regression"):
        raise SpecError(
            f"no target: pass --target COLUMN for a {kind} experiment (or --problem clustering, "
            "dimensionality_reduction or anomaly_detection for data without a target)"
        )
    if task:
        base["tasks"] = [kind, *task]
    # Creating reads the source: a data-access request, made as the authenticated caller.
    with acting_settings(get_settings(), "experiments create", f"experiment/{name}") as settings:
        created = create_experiment(
            settings,
            name=name,
            source=source,
            target=chosen_target,
            team=team,
            problem_type=kind,
            id_column=id_column,
            time_column=time_column,
            answers=given,
            description=description or base.pop("description", ""),
            tags=[*(tag or []), *base.pop("tags", [])],
            dbt_project_dir=dbt_project,
            base=base,
        )
    spec = created.spec
    console.print(f"created experiment [bold]{name}[/bold] v{created.version}: {created.spec_path}")
    console.print(
        f"  dbt scaffolds in {created.dbt_project_dir}"
        + ("" if dbt_project else " (the deployment's project; choose with --dbt-project DIR)")
    )
    for path in created.dbt_files:
        console.print(f"  dbt: {path}")
    if dbt_project and Path(dbt_project).resolve() != Path(settings.dbt_project_dir).resolve():
        console.print(
            f"  note: the code location builds {settings.dbt_project_dir}; set "
            f"AURORA_DBT_PROJECT_DIR={dbt_project} for it to see these models"
        )
    training = spec.training
    bound = (
        f"{training.metric_min}"
        if training.metric_min is not None
        else "derived from the data (dummy baseline + CV margin)"
    )
    console.print(f"  bar: {training.primary_metric} {bound}")
    console.print(f"next: edit the feature model, then `aurora run {name}`")


@app.command("list")
def experiments_list(
    team: Annotated[str | None, typer.Option(help="Only this team's.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Stage reached, pending_approval, drifting, archived or active."),
    ] = None,
    problem_type: Annotated[str | None, typer.Option(help="classification|regression.")] = None,
    search: Annotated[
        str | None, typer.Option(help="Words in name, description, objective or tags.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List and search experiments with their status and health."""
    from aurora_pipelines.workspace.catalog import catalog
    from aurora_pipelines.workspace.catalog import search as find

    settings = get_settings()
    entries = find(
        catalog(settings, _workspace(settings)),
        team=team,
        owner=owner,
        status=status,
        problem_type=problem_type,
        text=search,
    )
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries], indent=2))
        return
    table = Table("name", "team", "owner", "problem", "stage", "pending", "champion", "drift")
    table.add_column("health")
    for e in entries:
        table.add_row(
            e.name + (" (archived)" if e.archived else ""),
            e.team,
            e.owner,
            e.problem_type,
            e.stage,
            ", ".join(e.pending_approvals) or "-",
            e.champion_version or "-",
            e.drift_state,
            "-" if e.health is None else str(e.health),
        )
    console.print(table)


@app.command("show")
def experiments_show(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The spec, its questionnaire, current version, roles and health."""
    from aurora_pipelines.workspace.overview import overview

    settings = get_settings()
    data = overview(settings, _workspace(settings), name)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    console.print(yaml.safe_dump(data, sort_keys=False))


@app.command("history")
def experiments_history(
    name: str,
    diff: Annotated[bool, typer.Option(help="Show each version's diff.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every version of the spec: number, content hash, author, time, git commit (and diff)."""
    from aurora_pipelines.specs import find_spec

    settings = get_settings()
    find_spec(settings.experiments_dir, name)
    versions = _workspace(settings).history(name)
    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in versions], indent=2))
        return
    table = Table("version", "hash", "author", "time", "git commit", "note")
    for v in versions:
        table.add_row(
            str(v.version),
            v.content_hash[:12],
            v.author,
            v.created_at.isoformat(timespec="seconds"),
            (v.git_commit or "-")[:12],
            v.note,
        )
    console.print(table)
    if diff:
        for v in versions:
            console.print(f"[bold]v{v.version}[/bold]\n{v.diff}", markup=False, highlight=False)


@app.command("edit")
def experiments_edit(
    name: str,
    assignments: Annotated[list[str], typer.Argument(help="KEY=VALUE, e.g. training.cv_folds=3")],
    note: Annotated[str, typer.Option(help="Why (stored with the version).")] = "",
) -> None:
    """Change spec fields as an owner or editor; the change becomes a new version."""
    from aurora_pipelines.workspace.manage import parse_assignments, update_spec

    settings = get_settings()
    changes = parse_assignments(assignments)
    with acting(settings, "experiments edit", f"experiment/{name}") as identity:
        _, version, changed = update_spec(
            settings, _workspace(settings), name, changes, identity.name, note
        )
    if changed:
        console.print(f"{name}: version {version.version} ({version.content_hash[:12]})")
    else:
        console.print(f"{name}: unchanged (version {version.version})")


@app.command("share")
def experiments_share(
    name: str,
    user: str,
    role: Annotated[str, typer.Option(help="owner, editor or viewer.")] = "viewer",
) -> None:
    """Give USER a role on the experiment (owners only)."""
    from aurora_pipelines.specs import find_spec

    settings = get_settings()
    spec = find_spec(settings.experiments_dir, name)
    with acting(settings, "experiments share", f"experiment/{name}") as identity:
        _workspace(settings).grant(spec, user, role, identity.name)
    console.print(f"{user} is now {role} of {name}")


@app.command("clone")
def experiments_clone(
    src: str,
    new: str,
    source: Annotated[
        str | None, typer.Option(help="Another source for the clone (default: the same).")
    ] = None,
    dbt_project: Annotated[Path | None, typer.Option(help="dbt project for the scaffolds.")] = None,
) -> None:
    """Copy experiment SRC as NEW (owned by the caller); the origin is recorded."""
    from aurora_pipelines.experiments import create_experiment
    from aurora_pipelines.governance.policy import load_policy
    from aurora_pipelines.sources.readers import infer_source
    from aurora_pipelines.specs import ExperimentSpec
    from aurora_pipelines.workspace.manage import clone_data

    with acting_settings(get_settings(), "experiments clone", f"experiment/{new}") as settings:
        actor = settings.user or "unknown"
        policy = load_policy(settings.policy)
        team = policy.user(actor).team if policy.has_user(actor) else None
        new_source = infer_source(source).model_dump(mode="json") if source else None
        data = clone_data(settings, _workspace(settings), src, new, actor, team or "", new_source)
        original = ExperimentSpec.model_validate({**data, "team": team or data.get("team", "")})
        created = create_experiment(
            settings,
            name=new,
            source=original.source,
            target=original.target,
            team=team,
            problem_type=original.problem_type.value,
            id_column=original.id_column,
            time_column=original.time_column,
            dbt_project_dir=dbt_project,
            base=data,
        )
    console.print(
        f"cloned {src} (v{created.spec.origin.version}) as [bold]{new}[/bold]: {created.spec_path}"
    )


@app.command("archive")
def experiments_archive(
    name: str,
    reason: Annotated[str, typer.Option(help="Why (audited).")] = "",
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm removing the serving aliases.")
    ] = False,
) -> None:
    """Retire an experiment: no more schedules; its model loses its serving aliases after
    confirmation; everything stays readable. Owners only; audited."""
    from aurora_pipelines.workspace.manage import archive

    settings = get_settings()
    confirmed = yes or typer.confirm(
        f"Remove the serving aliases (champion, challenger, staging) of {name}?", default=False
    )
    with acting(settings, "experiments archive", f"experiment/{name}") as identity:
        _, removed = archive(
            settings,
            _workspace(settings),
            name,
            identity.name,
            reason=reason,
            remove_aliases=confirmed,
        )
    console.print(
        f"archived {name}; aliases removed: {', '.join(removed) or 'none'}"
        + ("" if confirmed else " (not confirmed: aliases kept)")
    )


@app.command("health")
def experiments_health(name: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Compute and record the health score (0-100) of an experiment, with its breakdown."""
    from aurora_pipelines.workspace.health import refresh_health

    settings = get_settings()
    health = refresh_health(settings, _workspace(settings), name)
    if as_json:
        typer.echo(json.dumps(health.to_dict(), indent=2))
        return
    console.print(f"{name}: health {health.score}/100")
    for component in health.components:
        value = "n/a" if component.score is None else f"{component.score:.0f}"
        console.print(f"  {component.name}: {value} (weight {component.weight}) {component.detail}")


@app.command("dictionary")
def experiments_dictionary(
    name: str,
    dbt_project: Annotated[
        Path | None,
        typer.Option(help="dbt project holding the scaffolds (default: the deployment's)."),
    ] = None,
) -> None:
    """Regenerate the data dictionary from the latest profile into the dbt sources YAML (shown
    by `dbt docs`) and a Markdown/HTML page; descriptions you edited are kept."""
    from aurora_pipelines.specs import find_spec
    from aurora_pipelines.workspace.dictionary import write_dictionary
    from aurora_pipelines.workspace.roles import EDIT

    settings = get_settings()
    spec = find_spec(settings.experiments_dir, name)
    with acting(settings, "experiments dictionary", f"experiment/{name}") as identity:
        _workspace(settings).require(spec, identity.name, EDIT)
        paths = write_dictionary(settings, spec, dbt_project)
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")
