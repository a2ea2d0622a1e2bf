"""The context-length tokenizer: bundled (cached on disk after the GGUF conversion) and batch counting."""

from __future__ import annotations

from pathlib import Path

import pytest

from longtracerl.paths import home
from longtracerl.synth.tokens import count_tokens_batch, load_tokenizer, tokenizer_name


def test_bundled_tokenizer_is_cached_and_counts_like_the_tokenizer() -> None:
    tok = load_tokenizer()
    assert tokenizer_name(tok).startswith("bundled:")
    cached = list((home() / "tokenizers").glob("*/tokenizer.json"))
    assert cached, "the converted tokenizer must be cached under paths.home()/tokenizers"
    texts = ["Hello world.", "Paris is the capital of France.\n<section title=\"x\">é ü</section>\n", ""]
    want = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts]
    assert count_tokens_batch(tok, texts) == want
    assert want[1] > want[0] > 0 and want[2] == 0
    again = load_tokenizer("bundled")  # from the cache: same vocabulary
    assert count_tokens_batch(again, texts) == want


def test_local_tokenizer_dir_and_missing_path(tmp_path: Path) -> None:
    tok = load_tokenizer()
    tok.save_pretrained(str(tmp_path / "mytok"))
    other = load_tokenizer(str(tmp_path / "mytok"))
    assert tokenizer_name(other) == "mytok"
    assert count_tokens_batch(other, ["a b c d"]) == count_tokens_batch(tok, ["a b c d"])
    with pytest.raises(FileNotFoundError, match="nope"):
        load_tokenizer(str(tmp_path / "nope"))
