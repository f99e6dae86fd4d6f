"""Generate reference/cli.md from the typer app: every command's usage, help and options."""

from __future__ import annotations

from typing import Any

import mkdocs_gen_files
import typer

from aurora_pipelines.cli import app


# Typer vendors its own click: its classes are not `click.*`, so these walk by attribute.
def _walk(command: Any, path: list[str]):
    yield path, command
    children = getattr(command, "commands", None) or {}
    for name in sorted(children):
        yield from _walk(children[name], [*path, name])


def _param_row(param: Any, ctx: Any) -> str:
    kind = str(param.display_type(ctx) or "").strip("<>") or "value"
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        kind = "flag" if getattr(param, "is_flag", False) else kind
        default = param.default if param.default not in (None, False, ()) else ""
    else:
        names = f"`{(param.name or '').upper()}`"
        kind = f"argument ({kind})"
        default = ""
    help_text = " ".join((param.help or "").split()).replace("|", "\\|")
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
        ctx = command.make_context(title, [], resilient_parsing=True)
        lines += [f"## `{title}`", ""]
        if command.help:
            lines += [" ".join(command.help.split()), ""]
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines += ["```text", f"{title} {usage}".rstrip(), "```", ""]
        params = [p for p in command.params if not getattr(p, "hidden", False)]
        if params and not getattr(command, "commands", None):
            lines += ["| option | kind | default | help |", "|---|---|---|---|"]
            lines += [_param_row(p, ctx) for p in params]
            lines.append("")
    return "\n".join(lines)


with mkdocs_gen_files.open("reference/cli.md", "w") as page:
    page.write(render())
