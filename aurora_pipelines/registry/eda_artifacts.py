"""The experiment's EDA profile logged with its training run, as MLflow users expect.

`eda/profile.html` and `eda/profile.json` are copied as written by eda/profile, and the
plots the HTML embeds as PNG data URIs are decoded into `eda/plots/<title>.png`, so they
show in MLflow's artifact viewer without re-reading the data.
"""

from __future__ import annotations

import base64
import html
import re
import tempfile
from pathlib import Path

ARTIFACT_PATH = "eda"
PROFILE_FILES = ("profile.html", "profile.json")
_IMG = re.compile(r"<img alt='([^']*)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_") or "plot"


def embedded_plots(page: str) -> dict[str, bytes]:
    """{file name: PNG bytes} of the plots embedded in a profile page."""
    plots: dict[str, bytes] = {}
    for title, data in _IMG.findall(page):
        name = f"{_slug(html.unescape(title))}.png"
        plots[name] = base64.b64decode(data)
    return plots


def log_eda_artifacts(tracking_uri: str, run_id: str, eda_dir: Path) -> list[str]:
    """Log the profile files and plots under `eda/` of run `run_id`; returns their paths
    (none when the experiment has no profile yet)."""
    from mlflow import MlflowClient

    eda_dir = Path(eda_dir)
    present = [eda_dir / name for name in PROFILE_FILES if (eda_dir / name).is_file()]
    if not present:
        return []
    client = MlflowClient(tracking_uri=tracking_uri)
    logged = []
    for path in present:
        client.log_artifact(run_id, str(path), artifact_path=ARTIFACT_PATH)
        logged.append(f"{ARTIFACT_PATH}/{path.name}")
    page = eda_dir / "profile.html"
    if page.is_file():
        with tempfile.TemporaryDirectory(prefix="aurora-eda-") as tmp:
            for name, png in embedded_plots(page.read_text(encoding="utf-8")).items():
                (Path(tmp) / name).write_bytes(png)
                client.log_artifact(run_id, str(Path(tmp) / name), f"{ARTIFACT_PATH}/plots")
                logged.append(f"{ARTIFACT_PATH}/plots/{name}")
    return logged
