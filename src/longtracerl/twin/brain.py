"""What the twin answers in each non-agent role, as a competent model would.

- chooser: the candidate with the most specific description (a seeded pick between the two best), with a reason;
- writer: a draft in the structured JSON form, written with our own template writer, and remembered with its
  path so the agent can find its gold pages later. Given the world (``Knowledge``: the docstore, graph and
  search the build uses, standing for what a large model knows of the corpus) it reads the full pages and
  checks its clues against the neighbours, as a strong writer would; without it, it writes from the shortened
  pages the prompt shows (a model that does not know the corpus: measured on the sample world, our hop checks
  reject nearly all such drafts). A retry after a rejection uses other sentences of the pages;
- judge: the released format (``extracted_final_answer`` / ``reasoning`` / ``correct: yes|no``), AA-LCR's
  CORRECT / INCORRECT, FRAMES' ``Decision: TRUE|FALSE``; a correct verdict when the response states an accepted
  answer;
- eval: the answer of a question it wrote, else a guess or "I don't know" (a weak reader).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from longtracerl.records import Chain, Document, Hop
from longtracerl.synth.questions import phrasing
from longtracerl.synth.questions.clues import ClueFailure, mask
from longtracerl.synth.questions.template import TemplateQuestionWriter, relation_phrase
from longtracerl.text import normalize_word
from longtracerl.twin.memory import TwinMemory, Written
from longtracerl.twin.roles import Request


@dataclass
class Knowledge:
    """What the twin knows of the corpus beyond the prompt: the world's docstore, graph and search."""

    docstore: Any
    graph: Any
    search: Any

    def clue_context(self, pages: dict[str, Document]) -> Any:
        """Our clue machinery over the world, reading the chain's pages as given (a retry drops sentences)."""
        from longtracerl.synth.questions.clues import ClueContext

        return ClueContext(_Overlay(self.docstore, pages), self.graph, self.search)

    def resolve(self, hops: list[Hop]) -> tuple[list[Hop], dict[str, Document]] | None:
        """The path's hops with their real entity and page ids, and the full pages; None if one is unknown."""
        out: list[Hop] = []
        docs: dict[str, Document] = {}
        for h in hops:
            n = self.graph.node_by_title(h.title)
            did = self.graph.doc_ids[n] if n is not None else None
            doc = self.docstore.get(did) if did else None
            if n is None or did is None or doc is None:
                return None
            out.append(h.model_copy(update={"entity_id": self.graph.entity_ids[n], "doc_id": did}))
            docs[did] = doc
        return out, docs


class _Overlay:
    """A docstore whose chain pages are replaced by the versions given."""

    def __init__(self, base: Any, pages: dict[str, Document]) -> None:
        self.base, self.pages = base, pages

    def get(self, doc_id: str) -> Document | None:
        return self.pages.get(doc_id) or self.base.get(doc_id)

    def __len__(self) -> int:
        return len(self.base)


@dataclass
class Reply:
    """The visible answer of one call (content and/or tool calls) and a short line of reasoning."""

    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    thought: str = ""


# ---------------------------------------------------------------------------- chooser

_CANDIDATE = re.compile(r"^(\d+)\. (.+)$", re.M)


def choose(req: Request, rng: random.Random) -> Reply:
    text = req.fields.get("prompt", "")
    block = text.split("Candidates for the next entity:", 1)[-1]
    cands = [(int(n), line) for n, line in _CANDIDATE.findall(block)]
    if not cands:
        return Reply(content=json.dumps({"choice": 1, "reason": "no candidates listed"}), thought="Nothing to compare.")
    # the most specific description (longest first sentence), a seeded pick between the two best
    ranked = sorted(cands, key=lambda c: (-len(c[1].partition(": ")[2]), c[0]))
    pick = ranked[min(len(ranked) - 1, 0 if rng.random() < 0.7 else 1)]
    name = pick[1].partition(": ")[0]
    reason = f"{name} has a specific, checkable description that makes the next step answerable"
    thought = f"Comparing {len(cands)} candidates; {name} is the most specific."
    # under a JSON schema (vLLM's guided decoding) only the schema's keys come out; the reason is the thought
    out = {"choice": pick[0]} if req.body.get("response_format") else {"choice": pick[0], "reason": reason}
    return Reply(content=json.dumps(out), thought=thought)


# ---------------------------------------------------------------------------- writer

_PATH_LINE = re.compile(r"^\d+\. (.+?)(?: \((JUMP): [^)]*\)| \(via: (.+)\))?$")
_SENT = re.compile(r"(?<=[.!?])\s+")


def _read_path(fields: dict[str, str]) -> tuple[list[Hop], dict[str, Document]]:
    hops: list[Hop] = []
    for i, line in enumerate(fields.get("path", "").splitlines()):
        m = _PATH_LINE.match(line.strip())
        if m is None:
            continue
        title, jump, rel = m.group(1), m.group(2), m.group(3)
        hops.append(Hop(entity_id=f"e{i}", title=title, doc_id=f"d{i}", relation=rel, jumped=bool(jump) and i > 0))
    docs: dict[str, Document] = {}
    text = fields.get("documents", "")
    pos = 0
    heads = [text.find(f"## {h.title}\n", pos) for h in hops]
    for k, h in enumerate(hops):
        start = heads[k]
        if start < 0:
            docs[h.doc_id or ""] = Document(doc_id=h.doc_id or "", title=h.title, text="")
            continue
        body_start = start + len(f"## {h.title}\n")
        ends = [e for e in heads[k + 1:] if e > start]
        body = text[body_start:(ends[0] if ends else len(text))].strip()
        docs[h.doc_id or ""] = Document(doc_id=h.doc_id or "", title=h.title, text=body)
    return hops, docs


def _drop_sentences(doc: Document, n: int) -> Document:
    parts = _SENT.split(doc.text)
    return doc.model_copy(update={"text": " ".join(parts[n:]) if len(parts) > n + 1 else doc.text})


def write(req: Request, rng: random.Random, memory: TwinMemory, knowledge: Knowledge | None = None) -> Reply:
    hops, docs = _read_path(req.fields)
    if not hops:
        return Reply(content='{"question": "", "answer": "", "gold_entities": [], "hop_clues": []}',
                     thought="I could not read the path.")
    world = None
    if knowledge is not None and (known := knowledge.resolve(hops)) is not None:
        hops, docs = known
        world = knowledge
    chain = Chain(chain_id="twin", hops=hops, seed=0)
    rotate = 1 + rng.randrange(2) if req.fields.get("feedback", "").strip() else 0  # a retry: other sentences
    draft = None
    for extra in range(3):
        shown = {k: _drop_sentences(d, rotate + extra) for k, d in docs.items()} if rotate + extra else docs
        ctx = world.clue_context(shown) if world is not None else None
        made = TemplateQuestionWriter(ctx, jump_mode="restart").draft(chain, shown)
        if not isinstance(made, ClueFailure):
            draft = made
            break
    if draft is None:  # no clean clue anywhere: a plainer question from the pages' opening words
        titles = [h.title for h in hops]
        clues = [" ".join(mask(docs[h.doc_id or ""].text, titles).split()[:14]).strip(' ".') for h in hops]
        p = phrasing.Phrasing.pick(titles[0])
        steps = [phrasing.entry_step("entity", phrasing.render_clue(clues[0]), p)]
        for k, (h, c) in enumerate(zip(hops[1:], clues[1:], strict=True), start=1):
            steps.append(phrasing.entry_step("entity", phrasing.render_clue(c), p, restart=True) if h.jumped else
                         phrasing.move_step(relation_phrase(h).removeprefix("go to "), phrasing.render_clue(c), p, k, last=k == len(hops) - 1))
        question = phrasing.question(steps, None, "entity", p)
        out = {"question": question, "answer": hops[-1].title, "gold_entities": titles, "hop_clues": clues}
    else:
        out = {"question": draft.question, "answer": draft.answer, "gold_entities": draft.gold_entities,
               "hop_clues": draft.hop_clues}
    memory.remember(Written(question=str(out["question"]).strip(), answer=str(out["answer"]),
                            titles=list(out["gold_entities"]), clues=list(out["hop_clues"])))
    thought = f"The path has {len(hops)} entities; I describe each by its own page and ask about the last."
    return Reply(content=json.dumps(out, ensure_ascii=False), thought=thought)


# ---------------------------------------------------------------------------- judge


def accepted_answers(correct_answer: str) -> list[str]:
    """The gold answer and the aliases the judge prompt lists (``gold (also accepted: a; b)``)."""
    m = re.match(r"(.*) \(also accepted: (.*)\)\s*\Z", correct_answer.strip(), re.S)
    if m is None:
        return [correct_answer.strip()]
    return [m.group(1).strip(), *[a.strip() for a in m.group(2).split(";") if a.strip()]]


def states(response: str, accepted: list[str]) -> bool:
    """Does the response state one of the accepted answers (normalised, as a whole phrase)?"""
    r = f" {normalize_word(response)} "
    return any((g := normalize_word(a)) and f" {g} " in r for a in accepted)


def judge(req: Request) -> Reply:
    f = req.fields
    response = f.get("response", "").strip()
    gold = f.get("correct_answer", f.get("gold", ""))
    ok = bool(response) and states(response, accepted_answers(gold))
    thought = f"The response {'matches' if ok else 'does not match'} the reference."
    if req.kind == "judge_hle":
        reason = ("it names the same entity as the correct answer" if ok
                  else "it does not state the correct answer")
        return Reply(content=f"extracted_final_answer: {response or 'None'}\nreasoning: {reason}.\n"
                             f"correct: {'yes' if ok else 'no'}", thought=thought)
    if req.kind == "eval_judge_frames":
        return Reply(content=f"The model answer {'agrees' if ok else 'disagrees'} with the reference.\n"
                             f"Decision: {'TRUE' if ok else 'FALSE'}", thought=thought)
    return Reply(content="CORRECT" if ok else "INCORRECT", thought=thought)


# ---------------------------------------------------------------------------- eval and anything else

_QUESTION = re.compile(r"Question:\s*(.+?)(?:\n|\Z)", re.S)


def answer_other(req: Request, rng: random.Random, memory: TwinMemory) -> Reply:
    """An eval item or a sample prompt: the answer of a question it wrote, else a weak reader's reply."""
    if req.kind == "eval_longbench-v2":
        letter = "ABCD"[rng.randrange(4)]
        return Reply(content=f"The correct answer is ({letter})", thought="Option " + letter + " fits best.")
    text = req.fields.get("question") or req.fields.get("prompt", "")
    q = req.fields.get("question") or next((m.group(1) for m in _QUESTION.finditer(text)), "")
    known = memory.recall(q) if q else None
    if known is not None:
        return Reply(content=known.answer, thought="The documents give it directly.")
    if rng.random() < 0.5:
        return Reply(content="I don't know.", thought="The documents do not settle it.")
    words = [w for w in re.findall(r"[A-Z][a-z]+", text) if len(w) > 3]
    return Reply(content=words[rng.randrange(len(words))] if words else "I don't know.",
                 thought="A guess from the names in the text.")
