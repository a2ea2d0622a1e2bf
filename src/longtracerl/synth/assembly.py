"""Long-context assembly (PAPER.md 2d): gold, then Tier-1, then Tier-2, then optional random fill, up to
L tokens; then a seeded shuffle. One user message: an instruction, "Documents:", each document in
``<section title="...">`` tags, then the question.

L is the length of the prompt as the trainer sees it: the training tokenizer's chat template applied to the
message with the generation prompt (``llm.tokenizers.chat_prompt_tokens``, what TRL and verl count against
their ``max_prompt_length``); ``Sample.prompt_tokens`` records it.

Token accounting without re-tokenizing the growing context: each wrapped section (wrapper + title +
text) is tokenized ONCE and its count cached per doc_id for the whole run; the scaffolding (instruction,
"Documents:", the question) is tokenized once per sample; what the chat template adds around the message
(role markers, a default system prompt, the generation prompt) is measured once per tokenizer and
instruction (``llm.tokenizers.template_overhead``, on a probe prompt of the same shape). Every piece ends with
a newline and the next starts with ``<`` or a letter, so with byte-level BPE tokenizers no token spans two
pieces and the sum of the pieces equals the token count of the final prompt (tests verify this against
``apply_chat_template``, and that it never exceeds L).
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable, Sequence
from typing import Any, Literal

from longtracerl.config import INSTRUCTIONS, AssemblyConfig  # the settings live with the other build configs
from longtracerl.llm.tokenizers import (
    count_tokens_batch,
    has_chat_template,
    template_overhead,
    tokenizer_name,
)
from longtracerl.records import ContextDoc, Document, Question, Rejection, Sample, Tier
from longtracerl.rng import seeded_rng
from longtracerl.synth.rubrics import question_rubrics
from longtracerl.synth.token_store import TokenCountStore, text_key

STAGE = "assembly"


def section(doc: Document) -> str:
    return f'<section title="{html.escape(doc.title, quote=True)}">\n{doc.text.strip()}\n</section>\n'


def scaffold(instruction: str, question: str) -> tuple[str, str]:
    """(head, tail): the prompt is head + sections + tail."""
    return f"{instruction}\n\nDocuments:\n", f"\nQuestion: {question.strip()}\n"


def sample_rng(seed: int, key: str, what: str) -> random.Random:
    """Randomness from (seed, item id), never from processing order: resumed runs draw the same."""
    return seeded_rng(seed, key, what)


Candidate = tuple[str, Tier]  # (doc_id, tier)
FillProvider = Callable[[Question], Sequence[str]]


class Assembler:
    """Builds samples; holds the per-doc token-count cache shared by every sample of a run."""

    def __init__(self, docstore: Any, tokenizer: Any, config: AssemblyConfig | None = None, *,
                 shared: TokenCountStore | None = None) -> None:
        self.docstore = docstore
        self.tokenizer = tokenizer
        self.config = config or AssemblyConfig()
        self.shared = shared  # counts shared with the other worker processes of this node (see token_store)
        self.token_cache: dict[str, int] = {}
        self.template_cache: dict[str, int] = {}  # instruction -> tokens the chat template adds (see overhead)
        self.missing: set[str] = set()
        self.tokenized_docs = 0  # documents tokenized (each at most once)
        self.tokenized_chars = 0

    # ------------------------------------------------------------------ counting
    def _count(self, doc_ids: Sequence[str]) -> None:
        todo = [d for d in dict.fromkeys(doc_ids) if d not in self.token_cache and d not in self.missing]
        if not todo:
            return
        texts, ids = [], []
        for d in todo:
            doc = self.docstore.get(d)
            if doc is None:
                self.missing.add(d)
                continue
            texts.append(section(doc))
            ids.append(d)
        if self.shared is not None:  # what another process of the node already counted
            keys = [text_key(t) for t in texts]
            known = self.shared.get_many(keys)
            for d, k in zip(ids, keys, strict=True):
                if k in known:
                    self.token_cache[d] = known[k]
            rest = [(d, t, k) for d, t, k in zip(ids, texts, keys, strict=True) if k not in known]
            ids, texts = [d for d, _, _ in rest], [t for _, t, _ in rest]
        counts = count_tokens_batch(self.tokenizer, texts)
        for d, n in zip(ids, counts, strict=True):
            self.token_cache[d] = n
        if self.shared is not None and texts:
            self.shared.put_many({k: n for (_, _, k), n in zip(rest, counts, strict=True)})
        self.tokenized_docs += len(texts)
        self.tokenized_chars += sum(map(len, texts))

    def overhead(self, instruction: str) -> int:
        """Tokens the trainer's chat template adds around a prompt that starts with ``instruction``: measured
        once (per tokenizer and instruction) on a probe prompt of the same shape as the real ones."""
        if instruction not in self.template_cache:
            head, tail = scaffold(instruction, "Which one?")
            probe = head + section(Document(doc_id="probe", title="Probe", text="Probe text.")) + tail
            self.template_cache[instruction] = template_overhead(self.tokenizer, probe)
        return self.template_cache[instruction]

    # ------------------------------------------------------------------ assembly
    def assemble(
        self,
        question: Question,
        candidates: Sequence[Candidate],
        *,
        seed: int = 0,
        strategy: str = "trajectory_tiered",
        fill_ids: Sequence[str] | FillProvider | None = None,
        sample_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Sample | Rejection:
        """Gold pages, then ``candidates`` in fill order, then random fill, within L tokens; shuffled."""
        cfg = self.config
        rng = sample_rng(seed, question.question_id, "assembly")
        k = rng.randrange(len(cfg.instructions))
        head, tail = scaffold(cfg.instructions[k], question.question)
        scaffold_tokens = sum(count_tokens_batch(self.tokenizer, [head, tail]))
        template = self.overhead(cfg.instructions[k])
        fixed = scaffold_tokens + template  # everything but the documents, as the trainer counts it
        budget = cfg.max_tokens - fixed
        gold = list(dict.fromkeys(question.gold_doc_ids))
        self._count(gold)
        lost = [g for g in gold if g in self.missing]
        if lost:
            return Rejection(item_id=question.question_id, stage=STAGE, reason="gold_missing",
                             detail=f"gold documents not in the store: {', '.join(lost)}")
        gold_tokens = sum(self.token_cache[g] for g in gold)
        if gold_tokens > budget:
            return Rejection(item_id=question.question_id, stage=STAGE, reason="gold_exceeds_budget",
                             detail=f"gold pages need {gold_tokens} tokens + {scaffold_tokens} scaffold + {template} "
                                    f"chat template > L={cfg.max_tokens}")
        chosen: list[ContextDoc] = [ContextDoc(doc_id=g, tier="gold", n_tokens=self.token_cache[g]) for g in gold]
        used = gold_tokens
        taken = set(gold)
        skipped_missing: list[str] = []
        misses = 0

        def consume(items: Sequence[Candidate]) -> bool:
            """Add what fits; False once the context is full (too many consecutive misses)."""
            nonlocal used, misses
            items = [(d, t) for d, t in items if d not in taken]
            for i in range(0, len(items), cfg.batch):
                chunk = items[i:i + cfg.batch]
                self._count([d for d, _ in chunk])
                for d, t in chunk:
                    if d in taken:
                        continue
                    if d in self.missing:
                        skipped_missing.append(d)
                        continue
                    n = self.token_cache[d]
                    if used + n <= budget:
                        chosen.append(ContextDoc(doc_id=d, tier=t, n_tokens=n))
                        taken.add(d)
                        used += n
                        misses = 0
                    else:
                        misses += 1
                        if misses >= cfg.max_misses:
                            return False
            return True

        full = not consume(candidates)
        n_fill = 0
        if not full and cfg.fill == "random" and fill_ids is not None:
            ids = fill_ids(question) if callable(fill_ids) else fill_ids
            before = len(chosen)
            consume([(d, "fill") for d in ids])
            n_fill = len(chosen) - before
        order = list(range(len(chosen)))
        sample_rng(seed, question.question_id, "shuffle").shuffle(order)
        context = [chosen[i] for i in order]
        docs = {c.doc_id: self.docstore.get(c.doc_id) for c in context}
        gone = [d for d, v in docs.items() if v is None]
        if gone:  # vanished between counting and rendering: never write a sample that lies about its docs
            if set(gone) & set(gold):
                return Rejection(item_id=question.question_id, stage=STAGE, reason="gold_missing", detail=", ".join(gone))
            context = [c for c in context if c.doc_id not in gone]
            used -= sum(self.token_cache[d] for d in gone)
            skipped_missing += gone
        body = "".join(section(d) for c in context if (d := docs[c.doc_id]) is not None)
        rubrics, rubric_aliases = question_rubrics(question)
        for pos, c in enumerate(context):
            c.position = pos
        info: dict[str, Any] = dict(details or {})
        info.update(instruction=k, budget_tokens=cfg.max_tokens, scaffold_tokens=scaffold_tokens,
                    template_tokens=template, chat_template=has_chat_template(self.tokenizer), n_fill=n_fill)
        if skipped_missing:
            info["skipped_missing"] = sorted(set(skipped_missing))
        return Sample(
            sample_id=sample_id or f"s-{question.question_id}",
            question_id=question.question_id,
            messages=[{"role": "user", "content": head + body + tail}],
            label=question.answer,
            rubrics=rubrics,
            rubric_aliases=rubric_aliases,
            question=question.question,
            docs=context,
            n_tokens=scaffold_tokens + used,
            prompt_tokens=fixed + used,
            tokenizer=tokenizer_name(self.tokenizer),
            strategy=strategy,
            seed=seed,
            details=info,
        )


def assemble(
    question: Question,
    candidates: Sequence[Candidate],
    docstore: Any,
    tokenizer: Any,
    *,
    max_tokens: int = 131072,
    seed: int = 0,
    fill: Literal["random", "none"] = "random",
    fill_ids: Sequence[str] | FillProvider | None = None,
    instructions: Sequence[str] | None = None,
    strategy: str = "trajectory_tiered",
) -> Sample | Rejection:
    """One-off assembly (builds a throwaway ``Assembler``; keep one ``Assembler`` per run to share its cache)."""
    cfg = AssemblyConfig(max_tokens=max_tokens, fill=fill, instructions=list(instructions or INSTRUCTIONS))
    return Assembler(docstore, tokenizer, cfg).assemble(question, candidates, seed=seed, strategy=strategy,
                                                        fill_ids=fill_ids)
