"""Jinja2 environment of the viewer: templates, CSS and JS are package data, inlined into each page."""

from __future__ import annotations

import base64
import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2


def page_json(obj: Any) -> str:
    """JSON safe to place inside ``<script type="application/json">`` (no ``</script>`` or ``<!--``)."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace(
        "\u2028", "\\u2028").replace("\u2029", "\\u2029")


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    e = jinja2.Environment(loader=jinja2.PackageLoader("longtracerl.view", "templates"),
                           autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
                           undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    e.filters["page_json"] = lambda o: jinja2.utils.markupsafe.Markup(page_json(o))
    e.filters["num"] = _num
    e.globals["static"] = static
    return e


@lru_cache(maxsize=16)
def _static_text(name: str) -> str:
    return (resources.files("longtracerl.view") / "static" / name).read_text(encoding="utf-8")


def static(name: str) -> Any:
    """A CSS or JS file of the package, inlined verbatim into a ``<style>`` or ``<script>`` element."""
    text = _static_text(name)
    if "</" + "script" in text.lower() or "</" + "style" in text.lower():
        raise ValueError(f"static file {name} would close its element early")
    return jinja2.utils.markupsafe.Markup(text)


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "" if x is None else str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.4f}".rstrip("0").rstrip(".") if abs(x) < 1e6 else f"{x:,.0f}"
    return str(x)


def render(template: str, **ctx: Any) -> str:
    return env().get_template(template).render(**ctx)


def png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def write_atomic(path: Path, text: str) -> Path:
    """Write via a temporary file and rename: a reader never sees a half-written page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
