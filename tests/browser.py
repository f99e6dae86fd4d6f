"""Debian's Chromium driven by Playwright (pip `playwright`, no downloaded browser build)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if chromium_path() is None:
        return "no chromium binary on PATH (Debian: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A headless Chromium. .ci/run installs both halves (`apt-get install chromium`, the `dev`
    extra's playwright), so under CI a missing one fails; elsewhere the test is skipped."""
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; .ci/run must install it")
        pytest.skip(missing)
    from playwright import sync_api

    path = chromium_path()
    with sync_api.sync_playwright() as pw:
        # --no-sandbox: CI runs as root, where Chromium's setuid sandbox refuses to start.
        chromium = pw.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()
