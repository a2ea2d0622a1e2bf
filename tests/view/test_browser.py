"""The pages in a real headless Chromium (Debian ``chromium`` + ``chromium-driver``, driven by selenium).

One browser per module. Assertions are on what the browser rendered: item counts, the tier strip,
highlighted gold mentions, the reader's notes for missing and huge documents, and an empty console.
Screenshots of the main views go to ``$LONGTRACERL_TEST_ARTIFACTS`` (else the pytest temp dir).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from longtracerl.netutil import free_port, wait_http
from longtracerl.view import write_build_html, write_eval_compare_html, write_eval_html

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = next((p for p in (os.environ.get("LONGTRACERL_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), shutil.which("google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="no chromium/chromedriver binary (apt-get install chromium chromium-driver)")
GOLD = {"norway", "oslo", "glomma"}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--allow-file-access-from-files"):
        opts.add_argument(a)
    opts.binary_location = str(CHROMIUM)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("LONGTRACERL_TEST_ARTIFACTS")
    d = Path(env) if env else tmp_path_factory.mktemp("screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


def _console_errors(drv: Any) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def _open(drv: Any, url: str) -> None:
    drv.get_log("browser")  # drop what earlier pages logged
    drv.get(url)
    WebDriverWait(drv, 60).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")


def _css(drv: Any, sel: str) -> list[Any]:
    return list(drv.find_elements(By.CSS_SELECTOR, sel))


def _wait_count(drv: Any, text: str) -> None:
    WebDriverWait(drv, 60).until(lambda d: d.find_element(By.ID, "sample-count").text == text)


def _select(drv: Any, item_id: str) -> None:
    drv.find_element(By.ID, "tab-btn-samples").click()
    drv.find_element(By.CSS_SELECTOR, f'#sample-list .row[data-id="{item_id}"]').click()
    WebDriverWait(drv, 60).until(lambda d: d.find_element(By.ID, "sample-view").get_attribute("data-item-id") == item_id)


def _open_doc(drv: Any, doc_id: str) -> Any:
    drv.find_element(By.CSS_SELECTOR, f'#tier-strip .doc[data-doc-id="{doc_id}"]').click()
    WebDriverWait(drv, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, "#doc-reader h3"))
    return drv.find_element(By.ID, "doc-reader")


def test_build_page_from_file_url(browser: Any, build_run: Path, shots: Path) -> None:
    page = write_build_html(build_run)
    _open(browser, page.as_uri())
    assert "context length L" in browser.find_element(By.ID, "settings-vs-paper").text
    browser.save_screenshot(str(shots / "build_report.png"))
    browser.find_element(By.ID, "tab-btn-samples").click()
    assert browser.find_element(By.ID, "sample-count").text == "5 shown of 5 matching"
    assert len(_css(browser, "#sample-list .row")) == 5
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.ID, "f-strategy")).select_by_value("random")
    _wait_count(browser, "1 shown of 1 matching")
    assert [r.get_attribute("data-id") for r in _css(browser, "#sample-list .row")] == ["s1"]
    Select(browser.find_element(By.ID, "f-strategy")).select_by_value("")
    Select(browser.find_element(By.ID, "f-reason")).select_by_value("dead_end")
    _wait_count(browser, "1 shown of 1 matching")
    assert len(_css(browser, "#sample-list .row")) == 1
    Select(browser.find_element(By.ID, "f-reason")).select_by_value("")
    browser.find_element(By.ID, "f-search").send_keys("question 2")
    _wait_count(browser, "1 shown of 1 matching")
    assert len(_css(browser, "#sample-list .row")) == 1
    browser.find_element(By.ID, "f-search").clear()
    browser.find_element(By.ID, "f-search").send_keys(" ")  # fires input: back to all
    _wait_count(browser, "5 shown of 5 matching")
    _select(browser, "s0")
    strip = _css(browser, "#tier-strip .doc")
    assert [d.get_attribute("data-tier") for d in strip] == ["tier1", "gold", "tier2", "gold", "fill", "gold"]
    assert [c.text for c in _css(browser, "#chain .clue")] == ["clue: the country north of Denmark",
                                                               "clue: its capital", "clue: the river east of it"]
    assert len(_css(browser, "#chain .badge.jump")) == 1
    assert len(_css(browser, "#trajectory .step")) == 4
    box = {d.get_attribute("data-doc-id"): d for d in strip}
    assert box["d-norway"].text.startswith("\u25cf") and box["d-oslo"].text.startswith("\u2605")  # opened, cited
    assert int(box["d-oslo"].get_attribute("data-mentions")) == 3  # "Oslo" twice, "Glomma" once
    reader = _open_doc(browser, "d-oslo")
    marks = [m.text.lower() for m in reader.find_elements(By.CSS_SELECTOR, "mark.gold-mention")]
    assert marks and set(marks) <= GOLD and "glomma" in marks
    # the answer (Glomma, also a gold entity) is marked as the answer too; Oslo is not
    assert [m.text for m in reader.find_elements(By.CSS_SELECTOR, "mark.answer-mention")] == ["Glomma"]
    assert "1 answer mentions" in reader.find_element(By.ID, "doc-notes").text
    reader = _open_doc(browser, "d-glomma")
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, "#doc-reader h3").text == "Glomma")
    assert [m.text for m in reader.find_elements(By.CSS_SELECTOR, "mark.answer-mention")] == ["Glomma", "Glåma"]
    assert "Glåma" not in [m.text for m in reader.find_elements(By.CSS_SELECTOR, "mark.gold-mention")]
    browser.save_screenshot(str(shots / "build_sample.png"))
    assert _console_errors(browser) == []


def test_missing_and_huge_documents(browser: Any, build_run: Path, shots: Path) -> None:
    page = write_build_html(build_run)
    _open(browser, page.as_uri() + "#sample=s1")
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "sample-view").get_attribute("data-item-id") == "s1")
    assert "missing" in browser.find_element(By.CSS_SELECTOR, '#tier-strip .doc[data-doc-id="d-gone"]').get_attribute("class")
    reader = _open_doc(browser, "d-gone")
    assert "not in the document store" in reader.find_element(By.ID, "doc-missing").text
    t0 = time.perf_counter()
    reader = _open_doc(browser, "d-huge")
    WebDriverWait(browser, 60).until(lambda d: "showing the first" in d.find_element(By.ID, "doc-notes").text)
    assert time.perf_counter() - t0 < 10
    notes = reader.find_element(By.ID, "doc-notes").text
    assert "10,485,7" in notes and "showing the first 100,000 characters" in notes
    assert len(reader.find_elements(By.CSS_SELECTOR, "mark.gold-mention")) == 1
    browser.save_screenshot(str(shots / "build_missing_docs.png"))
    assert _console_errors(browser) == []


def test_view_server_in_browser(browser: Any, build_run: Path, shots: Path) -> None:
    port = free_port()
    log = (build_run.parent / "view.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "longtracerl.cli", "view", str(build_run), "--port", str(port),
                             "--token", "tok3n"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)  # type: ignore[arg-type]
        assert httpx.get(f"http://127.0.0.1:{port}/api/items").status_code == 401
        _open(browser, f"http://127.0.0.1:{port}/?token=tok3n")
        browser.find_element(By.ID, "tab-btn-samples").click()
        _wait_count(browser, "5 shown of 5 matching")
        assert "every item is available" in browser.find_element(By.ID, "embed-note").text
        _select(browser, "s1")
        assert len(_css(browser, "#tier-strip .doc")) == 6
        reader = _open_doc(browser, "d-norway")
        marks = [m.text.lower() for m in reader.find_elements(By.CSS_SELECTOR, "mark.gold-mention")]
        assert marks and set(marks) <= GOLD
        _open_doc(browser, "d-huge")
        # the reader re-renders when the server's text arrives: an element found before that goes stale
        WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: "showing the first" in d.find_element(By.ID, "doc-notes").text)
        assert "showing the first 2,000,000 characters" in browser.find_element(By.ID, "doc-notes").text
        browser.save_screenshot(str(shots / "view_server.png"))
        assert _console_errors(browser) == []
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
        print((build_run.parent / "view.log").read_text())  # shown by pytest when the test fails


def test_eval_and_compare_pages(browser: Any, tmp_path: Path, make_eval: Callable[..., Path], shots: Path) -> None:
    a, b = make_eval(tmp_path, "a"), make_eval(tmp_path, "b", torn=True)
    _open(browser, write_eval_html(a).as_uri())
    assert browser.find_element(By.ID, "row-count").text == "6 of 6 rows shown"
    browser.find_element(By.ID, "f-wrong").click()
    assert browser.find_element(By.ID, "row-count").text == "3 of 6 rows shown"  # two wrong, one error
    browser.save_screenshot(str(shots / "eval.png"))
    assert _console_errors(browser) == []
    _open(browser, write_eval_compare_html([a, b]).as_uri())
    assert "torn last line" in browser.find_element(By.ID, "problems").text
    cells = _css(browser, "table.compare-rows tr.eval-row")
    assert len(cells) == 6 and "The answer of run b" in cells[0].text and "The answer of run a" in cells[0].text
    browser.find_element(By.ID, "f-wrong").click()
    # a and b differ on every row but the last (an error, no score, in both runs)
    assert browser.find_element(By.ID, "row-count").text == "5 of 6 rows shown"
    browser.save_screenshot(str(shots / "eval_compare.png"))
    assert _console_errors(browser) == []
