"""``longtracerl view-html`` rewrites the page of a build or an eval run; ``view`` refuses a missing directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from longtracerl.cli import app


def test_view_html_build_and_eval(build_run: Path, tmp_path: Path, make_eval: Callable[..., Path]) -> None:
    r = CliRunner().invoke(app, ["view-html", str(build_run), "--max-samples", "1"])
    assert r.exit_code == 0, r.output
    assert Path(r.output.strip()) == build_run / "report" / "index.html"
    assert "embedded_samples\":1" in (build_run / "report" / "index.html").read_text()
    ev = make_eval(tmp_path, "a")
    r = CliRunner().invoke(app, ["view-html", str(ev)])
    assert r.exit_code == 0, r.output
    assert (ev / "index.html").read_text().count('class="eval-row"') == 6  # the page of this run's six results
    r = CliRunner().invoke(app, ["view", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no such run directory" in r.output
