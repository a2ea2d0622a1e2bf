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


def _tiny_tokenizer_dir(path: Path) -> Path:
    """A word-level Hugging Face tokenizer written with the ``tokenizers`` library (no download)."""
    import json

    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "paris": 1, "is": 2, "a": 3, "city": 4}
    t = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    t.pre_tokenizer = pre_tokenizers.Whitespace()
    path.mkdir(parents=True)
    t.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "PreTrainedTokenizerFast",
                                                            "unk_token": "[UNK]"}))
    return path


def test_any_hf_tokenizer_dir_counts_L_and_is_named(tmp_path: Path) -> None:
    d = _tiny_tokenizer_dir(tmp_path / "word-tok")
    tok = load_tokenizer(str(d))
    assert tokenizer_name(tok) == "word-tok"
    assert count_tokens_batch(tok, ["paris is a city", "x y, z"]) == [4, 4]  # one token per word / mark

    from longtracerl.corpus.docstore import DocStore, build_docstore
    from longtracerl.records import Document, Question, Sample, WriterInfo
    from longtracerl.synth.assembly import Assembler, AssemblyConfig

    build_docstore(tmp_path / "ds", [Document(doc_id="g", title="G", text="paris is a city")])
    q = Question(question_id="q", chain_id="c", question="which city", answer="paris", gold_entities=["G"],
                 gold_doc_ids=["g"], writer=WriterInfo(backend="t"))
    s = Assembler(DocStore.open(tmp_path / "ds"), tok, AssemblyConfig(max_tokens=256, fill="none")).assemble(q, [])
    assert isinstance(s, Sample) and s.tokenizer == "word-tok"
    assert s.n_tokens == count_tokens_batch(tok, [s.messages[0]["content"]])[0]


def test_hub_id_that_cannot_be_loaded_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hf_constants  # read once at import: the env alone may come too late

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(FileNotFoundError, match="Hugging Face Hub id"):
        load_tokenizer("no-such-org/no-such-tokenizer")
    with pytest.raises(FileNotFoundError, match="no such directory"):
        load_tokenizer("./not/here")
