"""Eval pages from hand-written ``runs/eval/<name>/`` directories (CONTRACTS.md 3 fields)."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from longtracerl.view import write_eval_compare_html, write_eval_html


def test_eval_page_groups_by_bench_and_split(tmp_path: Path, make_eval: Callable[..., Path]) -> None:
    run = make_eval(tmp_path, "a")
    out = write_eval_html(run)
    assert out == run / "index.html"
    page = out.read_text()
    overview = page.split('id="eval-overview"')[1].split("</table>")[0]
    assert re.search(r"longqa</a></td><td>length=32k</td><td class=\"num\">3</td>", overview)
    assert re.search(r"mrcr</a></td><td>needles=2</td>", overview)
    assert page.count('class="eval-row"') == 6
    assert "error: HTTP 500 from the endpoint" in page
    text = htmllib.unescape(page)
    assert '<section title="Doc">prompt of longqa-0</section>' in text  # prompt head shown as text
    assert "<section title" not in page  # ... escaped, never as markup
    assert "CORRECT" in page and "longqa.length=32k.mean" in page  # judge reply, summary.json
    assert "gold: A1 | a1" in page and "What is A1?" in page and "finish reason: stop" in page
    assert "http://" not in page and "https://" not in page


def test_half_written_eval_run(tmp_path: Path, make_eval: Callable[..., Path]) -> None:
    run = make_eval(tmp_path, "a", torn=True, summary=False)
    page = write_eval_html(run).read_text()
    assert "results.jsonl:7: torn last line" in page
    assert "summary.json is missing" in page
    assert page.count('class="eval-row"') == 6
    empty = tmp_path / "eval" / "empty"
    empty.mkdir()
    assert "results.jsonl is missing" in write_eval_html(empty).read_text()


def test_compare_side_by_side(tmp_path: Path, make_eval: Callable[..., Path]) -> None:
    a, b = make_eval(tmp_path, "a"), make_eval(tmp_path, "b")
    (b / "results.jsonl").write_text("".join((b / "results.jsonl").read_text().splitlines(keepends=True)[:-1]))
    out = write_eval_compare_html([a, b])
    assert out == tmp_path / "eval" / "compare-a-vs-b" / "index.html"
    page = out.read_text()
    assert page.count('class="eval-row"') == 6
    assert "The answer of run a is A0" in page and "The answer of run b is AX" in page
    assert "no result in this run" in page  # the row b lacks
    overview = page.split('id="compare-overview"')[1].split("</table>")[0]
    assert re.search(r"longqa</a></td><td>length=32k</td><td class=\"num\">0.6667</td><td class=\"num\">0.3333</td>",
                     overview)
    with pytest.raises(ValueError, match="at least two"):
        write_eval_compare_html([a])
