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
