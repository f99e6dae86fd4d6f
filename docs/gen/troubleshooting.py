"""Generate troubleshooting.md from the error messages in the code.

Every `raise <AuroraError subclass>(message)` under aurora_pipelines/ is read from the source
(AST, nothing runs): its message template (placeholders shown as ‹name›), the kind of error and
the module, grouped by area. The messages carry their own fix (the house style), so the page
is the list a user searches for the line the CLI printed.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import mkdocs_gen_files

import aurora_pipelines
from aurora_pipelines import errors

PACKAGE = Path(aurora_pipelines.__file__).parent
# The hand-written part: how errors look, and set-up problems that happen before Aurora runs.
INTRO = (Path(__file__).parent / "troubleshooting_intro.md").read_text()


def _error_names() -> set[str]:
    names = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.AuroraError)
    }
    # Subclasses declared elsewhere (e.g. tokens.Unauthenticated): class X(<known error>).
    grew = True
    trees = {path: ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py")}
    while grew:
        grew = False
        for tree in trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                    if bases & names:
                        names.add(node.name)
                        grew = True
    return names


def _template(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append(f"‹{ast.unparse(value.value)}›")  # type: ignore[attr-defined]
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def collect() -> dict[str, list[tuple[str, str, str]]]:
    names = _error_names()
    by_area: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent)
        area = relative.parts[1] if len(relative.parts) > 2 else "core"
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            kind = getattr(func, "id", getattr(func, "attr", ""))
            if kind not in names or not node.exc.args:
                continue
            message = _template(node.exc.args[0])
            if message and len(message) > 12:
                by_area[area].append((" ".join(message.split()), kind, str(relative)))
    return by_area


def render() -> str:
    lines = [INTRO]
    for area, messages in sorted(collect().items()):
        lines += [f"### {area}", ""]
        seen = set()
        for message, kind, module in messages:
            if message in seen:
                continue
            seen.add(message)
            lines += [f"- `{kind}` in `{module}`:", "", f"    > {message}", ""]
    return "\n".join(lines)


with mkdocs_gen_files.open("troubleshooting.md", "w") as page:
    page.write(render())
