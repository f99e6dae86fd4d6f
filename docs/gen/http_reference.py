"""Generate reference/http.md and the OpenAPI documents of Aurora's two HTTP services.

The documents come from the live FastAPI apps (built over a throwaway store, never started), so
the page lists exactly the routes the code serves; the JSON files are published beside it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mkdocs_gen_files

from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.platform_api.app import create_platform_app
from aurora_pipelines.serving.scoring import ServiceConfig
from aurora_pipelines.serving.service import create_app as create_scoring_app
from aurora_pipelines.settings import DEFAULT_POLICY, Settings

METHODS = ("get", "post", "put", "patch", "delete")


def _documents(workdir: Path) -> dict[str, dict[str, Any]]:
    store = GovernanceStore(f"sqlite:///{workdir / 'governance.db'}", load_policy(DEFAULT_POLICY))
    try:
        platform = create_platform_app(Settings(home=workdir), store).openapi()
    finally:
        store.dispose()
    scoring_config = ServiceConfig(
        tracking_uri=f"sqlite:///{workdir / 'mlflow.db'}", lake_dir=workdir / "lake", experiments={}
    )
    scoring = create_scoring_app(scoring_config).openapi()
    return {"platform": platform, "scoring": scoring}


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _section(name: str, title: str, how: str, document: dict[str, Any]) -> list[str]:
    lines = [
        f"## {title}",
        "",
        how,
        "",
        f"OpenAPI document: [openapi/{name}.json](openapi/{name}.json).",
        "",
    ]
    for path in sorted(document.get("paths", {})):
        for method in METHODS:
            operation = document["paths"][path].get(method)
            if operation is None:
                continue
            lines += [f"### `{method.upper()} {path}`", ""]
            summary = operation.get("description") or operation.get("summary") or ""
            if summary:
                lines += [_cell(summary), ""]
            secured = bool(operation.get("security"))
            lines += [f"Authentication: {'bearer token' if secured else 'none'}.", ""]
            params = operation.get("parameters", [])
            if params:
                lines += ["| parameter | in | required | description |", "|---|---|---|---|"]
                for param in params:
                    lines.append(
                        f"| `{param['name']}` | {param['in']} | "
                        f"{'yes' if param.get('required') else 'no'} | "
                        f"{_cell(param.get('description', ''))} |"
                    )
                lines.append("")
            if "requestBody" in operation:
                content = operation["requestBody"].get("content", {})
                schema = next(iter(content.values()), {}).get("schema", {})
                ref = schema.get("$ref", "").rsplit("/", 1)[-1] or schema.get("type", "object")
                lines += [f"Request body: `{ref}` ({', '.join(content)}).", ""]
            responses = operation.get("responses", {})
            if responses:
                lines += ["| status | meaning |", "|---|---|"]
                for status in sorted(responses):
                    lines.append(
                        f"| {status} | {_cell(responses[status].get('description', ''))} |"
                    )
                lines.append("")
    return lines


def render(documents: dict[str, dict[str, Any]]) -> str:
    lines = [
        "# HTTP API reference",
        "",
        "Generated from the running code's OpenAPI documents. Both services also serve their",
        "document at `/openapi.json` and interactive docs at `/docs`.",
        "",
    ]
    lines += _section(
        "platform",
        "Platform API (governance, experiments, sources, queries, runs)",
        "`aurora governance serve [--port 8765]` (or `make governance-api`). Authenticate with "
        "`Authorization: Bearer <token>` from `aurora tokens create USER`; the caller is the "
        "token's user, never a field of the request.",
        documents["platform"],
    )
    lines += _section(
        "scoring",
        "Scoring service",
        "`aurora serve [--port 8000]` (or `make serve`): the versions the MLflow aliases of each "
        "experiment's registered model route to.",
        documents["scoring"],
    )
    return "\n".join(lines)


with tempfile.TemporaryDirectory(prefix="aurora-docs-") as tmp:
    DOCUMENTS = _documents(Path(tmp))
for NAME, DOCUMENT in DOCUMENTS.items():
    with mkdocs_gen_files.open(f"reference/openapi/{NAME}.json", "w") as raw:
        json.dump(DOCUMENT, raw, indent=2, sort_keys=True)
with mkdocs_gen_files.open("reference/http.md", "w") as page:
    page.write(render(DOCUMENTS))
