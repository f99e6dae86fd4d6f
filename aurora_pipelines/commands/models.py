"""`aurora models download EXPERIMENT [--version V] [-o FILE.zip]` and `aurora models verify`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aurora_pipelines.commands.common import (
    acting_settings,
    console,
    get_settings,
    governance_store,
)
from aurora_pipelines.errors import IntegrityError, PermissionDenied

app = typer.Typer(help="Registered model versions: download and verify archives.")


@app.command("download")
def download(
    experiment: Annotated[str, typer.Argument(help="Experiment (= registered model) name.")],
    version: Annotated[
        str | None, typer.Option("--version", help="Model version (default: newest).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Zip to write (default NAME-vV.zip).")
    ] = None,
) -> None:
    """One zip of the version: model, card, UAT report, profile, leaderboard, manifest."""
    from aurora_pipelines.registry.archive import build_archive, resolve_version
    from aurora_pipelines.specs import find_spec

    settings = get_settings()
    spec = find_spec(settings.experiments_dir, experiment)
    target = f"model:{spec.name}"
    with acting_settings(settings, "model_download", target) as acting:
        if not acting.user:
            raise PermissionDenied(
                "downloading a model needs an identity: `aurora login` (or AURORA_USER under "
                "an `identity: trust_env` policy)"
            )
        if output is None:
            resolved = resolve_version(acting.tracking_uri, spec.name, version)
            output = Path(f"{spec.name}-v{resolved}.zip")
        manifest = build_archive(
            acting,
            governance_store(acting),
            spec,
            caller=acting.user,
            version=version,
            out=output,
        )
    console.print(
        f"wrote {output} ({spec.name} v{manifest.model_version}, {len(manifest.files)} files"
        + (f"; not available: {', '.join(manifest.missing)}" if manifest.missing else "")
        + ")"
    )


@app.command("verify")
def verify(archive: Annotated[Path, typer.Argument(help="Zip from `aurora models download`.")]):
    """Recompute every file's sha256 against the archive's manifest (exit 1 on any mismatch)."""
    from aurora_pipelines.registry.archive import verify_archive

    result = verify_archive(archive)
    manifest = result.manifest
    if not result.ok:
        problems = [
            *(f"changed: {n}" for n in result.mismatched),
            *(f"missing: {n}" for n in result.absent),
            *(f"not in manifest: {n}" for n in result.unlisted),
        ]
        raise IntegrityError(f"{archive} fails verification ({'; '.join(problems)})")
    console.print(
        f"ok: {archive} — {manifest['model_name']} v{manifest['model_version']} "
        f"(digest {manifest['model_digest'][:12]}), {result.checked} files match the manifest"
    )
