"""The project's tokenizers (llm.tokenizers, shared by synthesis, eval and training): bundled (cached on disk
after the GGUF conversion), HF directories and Hub ids, batch counting, and the prompt as the trainer counts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from longtracerl.llm.tokenizers import (
    chat_prompt_tokens,
    count_tokens_batch,
    has_chat_template,
    load_tokenizer,
    template_overhead,
    tokenizer_name,
)
from longtracerl.paths import home


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


def test_chat_prompt_tokens_is_the_trainers_count() -> None:
    """The bundled tokenizer's own chat template (default system prompt + generation prompt) is applied."""
    tok = load_tokenizer()
    assert has_chat_template(tok)
    msgs = [{"role": "user", "content": "Answer only using the documents.\nQuestion: which city?\n"}]
    ids = tok.apply_chat_template(msgs, tokenize=True, add_generation_prompt=True)
    n = chat_prompt_tokens(tok, msgs)
    assert n == len(ids["input_ids"] if hasattr(ids, "keys") else ids)
    overhead = template_overhead(tok, msgs[0]["content"])
    assert overhead > 10  # role markers, the default system prompt, the assistant header
    assert n == count_tokens_batch(tok, [msgs[0]["content"]])[0] + overhead


def test_without_a_chat_template_the_plain_text_and_its_special_tokens_count(tmp_path: Path) -> None:
    """A tokenizer without a chat template: what a plain-text trainer feeds (texts + the tokenizer's BOS)."""
    import json

    d = _tiny_tokenizer_dir(tmp_path / "word-tok")
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    tok = load_tokenizer(str(d))
    assert not has_chat_template(tok)
    msgs = [{"role": "user", "content": "paris is a city"}]
    assert chat_prompt_tokens(tok, msgs) == 4 and template_overhead(tok, "paris is a city") == 0
    from tokenizers import Tokenizer, processors

    t = Tokenizer.from_file(str(d / "tokenizer.json"))  # now with a BOS token added to every text
    t.add_special_tokens(["<s>"])
    t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", t.token_to_id("<s>"))])
    t.save(str(d / "tokenizer.json"))
    (d / "tokenizer_config.json").write_text(json.dumps({**cfg, "bos_token": "<s>"}))
    tok = load_tokenizer(str(d))
    assert chat_prompt_tokens(tok, msgs) == 5 and template_overhead(tok, "paris is a city") == 1
