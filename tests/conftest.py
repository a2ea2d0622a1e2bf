"""Shared fixtures. Tests that need ../shared/data skip, saying why, where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from longtracerl.paths import shared_data_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("../shared/data (real 2WikiMultihopQA data) is not beside this clone")
    return d


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep caches of tests out of the user's ~/.cache, shared across the session for speed."""
    monkeypatch.setenv("LONGTRACERL_HOME", str(tmp_path_factory.getbasetemp() / "home"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, proc=None) -> None:  # type: ignore[no-untyped-def]
    """Poll ``url`` until it answers (any status < 500) or fail with the server's output."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real bundled model (SmolLM2-135M GGUF) behind llama-cpp-python's OpenAI-compatible server.

    Yields the base URL (``http://127.0.0.1:PORT/v1``); the served model name is ``smollm2``.
    """
    import subprocess
    import sys

    from longtracerl.llm.bundled import bundled_gguf_path

    port = free_port()
    log = tmp_path_factory.mktemp("llm_server") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf_path()),
             "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
             "--n_ctx", "8192", "--n_threads", "2", "--verbose", "false"],
            stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", timeout=120, proc=proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
