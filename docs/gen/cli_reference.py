"""Generate reference/cli.md from the typer app: every command's usage, help and options."""

from __future__ import annotations

import click
import mkdocs_gen_files
import typer

from aurora_pipelines.cli import app


def _walk(command: click.Command, path: list[str]):
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], [*path, name])


def _param_row(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        kind = "flag" if param.is_flag else param.type.name.upper()
        default = param.default if param.default not in (None, False, ()) else ""
        help_text = param.help or ""
    else:
        names = f"`{param.human_readable_name}`"
        kind = "argument"
        default = ""
        help_text = getattr(param, "help", "") or ""
    help_text = " ".join(help_text.split()).replace("|", "\\|")
    return f"| {names} | {kind} | {f'`{default}`' if default != '' else ''} | {help_text} |"


def render() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command line reference",
        "",
        "`aurora` is installed into the venv by `make install`. Errors you can cause print as one",
        "line (`error: ...`) and exit 1; add `--debug` for the traceback. This page is generated",
        "from the command definitions (`aurora_pipelines/cli.py`, `aurora_pipelines/commands/`).",
        "",
    ]
    for path, command in _walk(root, ["aurora"]):
        if command.hidden:
            continue
        title = " ".join(path)
        ctx = click.Context(command, info_name=title)
        lines += [f"## `{title}`", ""]
        if command.help:
            lines += [command.help.strip(), ""]
        usage = command.collect_usage_pieces(ctx)
        lines += ["```text", f"{title} {' '.join(usage)}".rstrip(), "```", ""]
        params = [p for p in command.params if not getattr(p, "hidden", False)]
        if params and not isinstance(command, click.Group):
            lines += ["| option | kind | default | help |", "|---|---|---|---|"]
            lines += [_param_row(p) for p in params]
            lines.append("")
    return "\n".join(lines)


with mkdocs_gen_files.open("reference/cli.md", "w") as page:
    page.write(render())
