"""The documentation's runnable examples run: a documented command that stops working fails.

Fences marked `{.bash .doc-run}` in docs/**/*.md run, page by page, as one bash script (so a
page's blocks share variables) in a fresh AURORA_HOME; fences marked `{.yaml .doc-spec}` must
validate as experiment specs. Plain ```bash fences are illustrations (they need data, a server
or a person) and are not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aurora_pipelines.specs import load_spec

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FENCE = re.compile(
    r"^```\{\.(?P<lang>\w+) \.(?P<kind>doc-run|doc-spec)\}\n(?P<body>.*?)^```$", re.M | re.S
)
GUIDES = sorted((DOCS / "guides").glob("*.md"))


def _blocks(page: Path, kind: str) -> list[str]:
    return [m["body"] for m in FENCE.finditer(page.read_text()) if m["kind"] == kind]


PAGES_WITH_COMMANDS = [p for p in sorted(DOCS.rglob("*.md")) if _blocks(p, "doc-run")]
SPEC_BLOCKS = [
    pytest.param(body, id=f"{page.relative_to(DOCS)}#{n}")
    for page in sorted(DOCS.rglob("*.md"))
    for n, body in enumerate(_blocks(page, "doc-spec"))
]


def test_every_guide_has_a_runnable_example() -> None:
    assert GUIDES, "no guides found under docs/guides"
    missing = [g.name for g in GUIDES if g not in PAGES_WITH_COMMANDS]
    assert not missing, f"guides without a `{{.bash .doc-run}}` example: {missing}"


@pytest.mark.parametrize("page", PAGES_WITH_COMMANDS, ids=lambda p: str(p.relative_to(DOCS)))
def test_documented_commands_run(page: Path, tmp_path: Path) -> None:
    script = "\n".join(_blocks(page, "doc-run"))
    home = tmp_path / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"AURORA_USER", "AURORA_TOKEN", "AURORA_HOME", "DAGSTER_HOME"}
    }
    env.update(
        AURORA_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        AURORA_EXPERIMENTS_DIR=str(ROOT / "experiments"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (
        f"{page.relative_to(ROOT)}: a documented command failed (exit {done.returncode})\n"
        f"--- script\n{script}\n--- stdout\n{done.stdout[-3000:]}\n"
        f"--- stderr\n{done.stderr[-3000:]}"
    )


@pytest.mark.parametrize("body", SPEC_BLOCKS)
def test_documented_specs_validate(body: str, tmp_path: Path) -> None:
    spec = yaml.safe_load(body)
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(body)
    assert load_spec(path).name == spec["name"]
