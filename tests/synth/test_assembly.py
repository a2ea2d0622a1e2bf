"""Long-context assembly: never over L, token accounting exact, tier order, seeded shuffle, one tokenization
per document, rejections with reasons."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from longtracerl.corpus.docstore import DocStore, build_docstore
from longtracerl.llm.tokenizers import load_tokenizer
from longtracerl.records import Document, Question, Rejection, Sample, WriterInfo
from longtracerl.synth.assembly import INSTRUCTIONS, Assembler, AssemblyConfig, assemble, section

WORDS = ("river mountain capital border language économie Ωmega 1,234 km² \"quoted\" <tag> & trade "
         "population export partner government republic monarchy desert island coast").split()


@pytest.fixture(scope="module")
def tok() -> Any:
    return load_tokenizer()


def _text(rng: random.Random, n: int) -> str:
    lines = []
    for _ in range(max(1, n // 12)):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(12)) + ".")
    return "\n".join(lines)


@pytest.fixture()
def store(tmp_path: Path) -> DocStore:
    rng = random.Random(7)
    docs = [Document(doc_id=f"d{i:02d}", title=f"Page {i} \"q\" & <x>" if i % 5 == 0 else f"Page {i}",
                     text=_text(rng, rng.randint(30, 400))) for i in range(40)]
    docs.append(Document(doc_id="huge", title="Huge", text=_text(rng, 20000)))
    build_docstore(tmp_path / "ds", docs)
    return DocStore.open(tmp_path / "ds")


def _q(gold: list[str], qid: str = "q-1") -> Question:
    return Question(question_id=qid, chain_id="c", question="Which capital is it, in the end?", answer="Zed",
                    gold_entities=["Page 1", "Page 2"], gold_doc_ids=gold, writer=WriterInfo(backend="t"))


def _prompt_tokens(tok: Any, s: Sample) -> int:
    return len(tok(s.messages[0]["content"], add_special_tokens=False)["input_ids"])


def test_never_exceeds_L_and_counts_are_exact(tok: Any, store: DocStore) -> None:
    cands = [(f"d{i:02d}", "tier1" if i < 12 else "tier2") for i in range(3, 40)]
    worst = 0
    for L in (1500, 3000, 6000, 12000, 50000):
        for seed in range(3):
            s = assemble(_q(["d01", "d02"]), cands, store, tok, max_tokens=L, seed=seed, fill="none")
            assert isinstance(s, Sample)
            actual = _prompt_tokens(tok, s)
            assert actual <= L
            assert s.n_tokens <= L
            worst = max(worst, abs(actual - s.n_tokens))
            assert sum(d.n_tokens for d in s.docs) < s.n_tokens  # scaffolding is counted too
    # pieces end with a newline, so no BPE token spans two of them: the sum IS the prompt's count
    assert worst == 0


# A template of our own in the common ChatML shape, with two things that make counting by pieces hard: the
# message text is trimmed (its last newline goes) and the generation prompt opens a <think> block.
TRIMMING_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] | trim }}<|im_end|>\n"
                     "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n<think>\n{% endif %}")


@pytest.mark.parametrize("template", ["bundled", "trimming"])
def test_prompt_tokens_are_the_trainers_count_and_never_exceed_L(tok: Any, store: DocStore, tmp_path: Path,
                                                                  template: str) -> None:
    """L bounds the prompt as the trainer tokenizes it: chat template + generation prompt (issue 19)."""
    from longtracerl.llm.tokenizers import chat_prompt_tokens

    t = tok
    if template == "trimming":
        tok.save_pretrained(str(tmp_path / "trim-tok"))
        t = load_tokenizer(str(tmp_path / "trim-tok"))
        t.chat_template = TRIMMING_TEMPLATE
    cands = [(f"d{i:02d}", "tier1" if i < 12 else "tier2") for i in range(3, 40)]
    closest = 10**9
    for L in (1500, 3000, 6000, 12000):
        asm = Assembler(store, t, AssemblyConfig(max_tokens=L, fill="none"))
        for seed in range(3):
            s = asm.assemble(_q(["d01", "d02"]), cands, seed=seed)
            assert isinstance(s, Sample)
            want = chat_prompt_tokens(t, s.messages)  # apply_chat_template(..., add_generation_prompt=True)
            assert s.prompt_tokens == want <= L
            assert s.n_tokens == _prompt_tokens(t, s)  # the message text alone, as before
            assert s.details["template_tokens"] == want - s.n_tokens > 0 and s.details["chat_template"] is True
            closest = min(closest, L - want)
        assert len(asm.template_cache) <= len(INSTRUCTIONS)  # measured once per instruction, not per sample
    assert closest < 200  # filled up to L (the docs are ~50-400 tokens), not stopped short by a safety margin


def test_gold_rejection_counts_the_template(tok: Any, store: DocStore) -> None:
    asm = Assembler(store, tok, AssemblyConfig(max_tokens=256, fill="none"))
    r = asm.assemble(_q(["huge"]), [])
    assert isinstance(r, Rejection) and r.reason == "gold_exceeds_budget" and "chat template" in r.detail


def test_prompt_shape(tok: Any, store: DocStore) -> None:
    s = assemble(_q(["d01", "d02"]), [("d05", "tier1")], store, tok, max_tokens=8000, seed=3, fill="none")
    assert isinstance(s, Sample)
    assert len(s.messages) == 1 and s.messages[0]["role"] == "user"
    text = s.messages[0]["content"]
    assert any(text.startswith(i) for i in INSTRUCTIONS)
    assert "\nDocuments:\n" in text
    assert text.rstrip().endswith("Question: Which capital is it, in the end?")
    assert '<section title="Page 5 &quot;q&quot; &amp; &lt;x&gt;">' in text
    assert text.count("<section ") == len(s.docs) == 3
    assert [d.position for d in s.docs] == [0, 1, 2]  # type: ignore[attr-defined]
    # instruction templates are picked by the seed (several different ones over seeds)
    firsts = set()
    for seed in range(12):
        r = assemble(_q(["d01"], qid=f"q-{seed}"), [], store, tok, max_tokens=8000, seed=seed, fill="none")
        assert isinstance(r, Sample)
        firsts.add(r.messages[0]["content"].split("\n", 1)[0])
    assert len(firsts) >= 3


def test_tier_order_and_fill(tok: Any, store: DocStore) -> None:
    asm = Assembler(store, tok, AssemblyConfig(max_tokens=6000, fill="random"))
    t1 = [(f"d{i:02d}", "tier1") for i in range(3, 7)]
    t2 = [(f"d{i:02d}", "tier2") for i in range(7, 40)]
    s = asm.assemble(_q(["d01", "d02"]), t1 + t2, seed=1, fill_ids=[f"d{i:02d}" for i in range(39, 2, -1)])
    assert isinstance(s, Sample)
    tiers = {d.doc_id: d.tier for d in s.docs}
    assert tiers["d01"] == tiers["d02"] == "gold"
    assert all(tiers.get(d) == "tier1" for d, _ in t1)  # all of Tier-1 before any Tier-2
    tier2 = [d for d, _ in t2 if d in tiers]
    assert tier2, "budget leaves room for some Tier-2"
    assert "fill" not in tiers.values()  # the tiers did not run short
    # tiers running short -> random fill pads the context
    s2 = asm.assemble(_q(["d01", "d02"], qid="q-2"), t1, seed=1, fill_ids=[f"d{i:02d}" for i in range(39, 2, -1)])
    assert isinstance(s2, Sample)
    assert "fill" in {d.tier for d in s2.docs}
    assert s2.n_tokens > sum(asm.token_cache[d] for d in ("d01", "d02", "d03", "d04", "d05", "d06"))
    s3 = asm.assemble(_q(["d01", "d02"], qid="q-3"), t1, seed=1, fill_ids=None)
    assert isinstance(s3, Sample) and "fill" not in {d.tier for d in s3.docs}


def test_shuffle_is_deterministic_by_seed(tok: Any, store: DocStore) -> None:
    cands = [(f"d{i:02d}", "tier2") for i in range(3, 40)]
    a = assemble(_q(["d01", "d02"]), cands, store, tok, max_tokens=9000, seed=5, fill="none")
    b = assemble(_q(["d01", "d02"]), cands, store, tok, max_tokens=9000, seed=5, fill="none")
    assert isinstance(a, Sample) and isinstance(b, Sample)
    assert a.model_dump() == b.model_dump()
    orders = set()
    for seed in range(4):
        c = assemble(_q(["d01", "d02"]), cands, store, tok, max_tokens=9000, seed=seed, fill="none")
        assert isinstance(c, Sample)
        orders.add(tuple(d.doc_id for d in c.docs))
    assert len(orders) > 1
    assert len({o.index("d01") for o in orders}) > 1  # gold pages do not stay in front


class CountingTokenizer:
    """The real tokenizer behind a wrapper that records every text it is asked to encode."""

    def __init__(self, tok: Any) -> None:
        self.tok = tok
        self.texts: list[str] = []
        outer = self

        class _Backend:
            def encode_batch(self, texts: list[str], add_special_tokens: bool = False) -> Any:
                outer.texts.extend(texts)
                return tok._tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)

        self._tokenizer = _Backend()
        self.longtracerl_name = "counting"
        self.chat_template = tok.chat_template

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> Any:
        return self.tok.apply_chat_template(*args, **kwargs)


def test_each_document_tokenized_once(tok: Any, store: DocStore) -> None:
    ct = CountingTokenizer(tok)
    asm = Assembler(store, ct, AssemblyConfig(max_tokens=20000, fill="random"))
    cands = [(f"d{i:02d}", "tier1") for i in range(3, 40)]
    for k in range(5):
        r = asm.assemble(_q(["d01", "d02"], qid=f"q-{k}"), cands[k:], seed=k, fill_ids=[f"d{i:02d}" for i in range(40)])
        assert isinstance(r, Sample)
    sections = [t for t in ct.texts if t.startswith("<section ")]
    assert len(sections) == len(set(sections)), "a document was tokenized twice"
    assert len(sections) == asm.tokenized_docs <= 41


def test_rejections_and_missing_docs(tok: Any, store: DocStore) -> None:
    r = assemble(_q(["d01", "huge"]), [], store, tok, max_tokens=4000, seed=0)
    assert isinstance(r, Rejection)
    assert (r.stage, r.reason, r.item_id) == ("assembly", "gold_exceeds_budget", "q-1")
    assert "L=4000" in r.detail
    r2 = assemble(_q(["d01", "gone"]), [], store, tok, max_tokens=4000, seed=0)
    assert isinstance(r2, Rejection) and r2.reason == "gold_missing" and "gone" in r2.detail
    s = assemble(_q(["d01"]), [("vanished", "tier1"), ("d03", "tier1")], store, tok, max_tokens=4000, seed=0,
                 fill="none")
    assert isinstance(s, Sample)
    assert s.details["skipped_missing"] == ["vanished"]  # type: ignore[attr-defined]
    assert [d.doc_id for d in s.docs if d.tier == "tier1"] == ["d03"]
    assert section(store.get("d03")) in s.messages[0]["content"]  # type: ignore[arg-type]


def _count_store_reads(tmp_path: Path) -> Any:  # one store file, one connection each
    from longtracerl.synth.token_store import TokenCountStore

    return TokenCountStore(tmp_path / "counts" / "tokens.sqlite")


def test_token_counts_shared_between_assemblers(tok: Any, store: DocStore, tmp_path: Path) -> None:
    """Two assemblers over one store file (as two Ray worker processes of a node): the second tokenizes no page
    the first counted, and both build the same sample."""
    cands = [(f"d{i:02d}", "tier1") for i in range(3, 30)]
    first = Assembler(store, tok, AssemblyConfig(max_tokens=6000, fill="none"), shared=_count_store_reads(tmp_path))
    second = Assembler(store, tok, AssemblyConfig(max_tokens=6000, fill="none"), shared=_count_store_reads(tmp_path))
    alone = Assembler(store, tok, AssemblyConfig(max_tokens=6000, fill="none"))
    a = first.assemble(_q(["d01", "d02"]), cands, seed=1)
    b = second.assemble(_q(["d01", "d02"]), cands, seed=1)
    c = alone.assemble(_q(["d01", "d02"]), cands, seed=1)
    assert first.tokenized_docs > 5 and second.tokenized_docs == 0
    assert a == b == c
    assert second.shared is not None and second.shared.hits == first.tokenized_docs


def test_shared_token_counts_are_keyed_by_content(tok: Any, tmp_path: Path) -> None:
    """A page whose text changed (a rebuilt docstore at the same path) is counted again, never given a stale count."""
    docs = [Document(doc_id="d1", title="One", text="short text."), Document(doc_id="d2", title="Two", text="x.")]
    build_docstore(tmp_path / "a", docs)
    docs[0] = Document(doc_id="d1", title="One", text="a much longer text than before, " * 40)
    build_docstore(tmp_path / "b", docs)
    with DocStore.open(tmp_path / "a") as da, DocStore.open(tmp_path / "b") as db:
        asm_a = Assembler(da, tok, AssemblyConfig(max_tokens=4000, fill="none"), shared=_count_store_reads(tmp_path))
        asm_b = Assembler(db, tok, AssemblyConfig(max_tokens=4000, fill="none"), shared=_count_store_reads(tmp_path))
        sa, sb = asm_a.assemble(_q(["d1"]), [("d2", "tier1")]), asm_b.assemble(_q(["d1"]), [("d2", "tier1")])
    assert isinstance(sa, Sample) and isinstance(sb, Sample)
    assert asm_b.tokenized_docs == 1  # d1 changed: counted again; d2 unchanged: read from the store
    assert sb.n_tokens == _prompt_tokens(tok, sb) > sa.n_tokens == _prompt_tokens(tok, sa)


HAMMER = """
import sys
from longtracerl.synth.token_store import TokenCountStore
path, offset = sys.argv[1], int(sys.argv[2])
s = TokenCountStore(path)
for i in range(40):
    s.put_many({f"k{(offset + i * 7 + j) % 200}": (offset + i * 7 + j) % 200 for j in range(10)})
    s.get_many([f"k{j}" for j in range(0, 200, 3)])
s.close()
"""


def test_token_store_survives_concurrent_writers(tmp_path: Path) -> None:
    """Three processes writing and reading one store at once (WAL): no error, no lost or wrong count."""
    import subprocess
    import sys

    from longtracerl.synth.token_store import TokenCountStore

    procs = [subprocess.Popen([sys.executable, "-c", HAMMER, str(tmp_path / "t.sqlite"), str(k * 13)],
                              stderr=subprocess.PIPE, text=True) for k in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
    s = TokenCountStore(tmp_path / "t.sqlite")
    got = s.get_many([f"k{j}" for j in range(200)])
    assert got == {f"k{j}": j for j in range(200)}  # every key written, with its value, none lost
    s.close()
