"""The page's Jinja2 templates (autoescaped), shared by the routes and the report files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

UI_PREFIX = "/ui"

templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters["short"] = lambda digest: str(digest)[:12] + "…"


def render_html(template: str, **context: Any) -> str:
    """One template rendered with the site's prefix (`ui`) in its context."""
    return templates.get_template(template).render(ui=UI_PREFIX, **context)
