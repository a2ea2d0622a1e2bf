"""Fixtures of the training tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with the bundled tokenizer, saved once for every training test that needs one."""
    pytest.importorskip("trl")
    from longtracerl.train.models import bundled_tokenizer, tiny_random_llama

    tok = bundled_tokenizer()
    d = tmp_path_factory.mktemp("tiny")
    tiny_random_llama(tok).save_pretrained(d)
    tok.save_pretrained(d)
    return d
