"""The LLM-free question writer: deterministic questions from the chain's relation labels (a baseline,
and what offline runs and tests use). The answer is an attribute of the last entity read from its page
(capital, government type or national symbol, for World Factbook pages), else the last entity itself."""

from __future__ import annotations

import hashlib
import re

from longtracerl.records import Chain, Document, Hop
from longtracerl.synth.questions.validate import Draft

PROMPT_VERSION = "template-v1"
# (attribute asked, pattern of its value in a World Factbook-style page); the chain id picks where to start
_ATTRIBUTES: list[tuple[str, re.Pattern[str]]] = [
    ("capital", re.compile(r"^Capital: name: ([^;\n(]+)", re.M)),
    ("government type", re.compile(r"^Government type: ([^;\n(]+)", re.M)),
    ("first listed national symbol", re.compile(r"^National symbol\(s\): ([^;,\n(]+)", re.M)),
]
_VERB_PHRASE = re.compile(r"\b(with|to|in|of|by|from|on|at|for|into)$")
_SENT = re.compile(r"(?<=[.!?])\s+")


def _relation_phrase(hop: Hop) -> str:
    rel = (hop.relation or "").strip()
    if hop.jumped or not rel:
        return "Jump to another, unrelated entity"
    if rel == "mentions":
        return "Move to an entity that its description mentions"
    if rel.endswith("(inverse)"):
        return f"Move to the entity whose {rel.removesuffix('(inverse)').strip()} it is"
    if _VERB_PHRASE.search(rel):  # "shares a border with" -> "Move to an entity it shares a border with"
        return f"Move to an entity it {rel}"
    return f"Move to its {rel}"  # a noun phrase: "largest export partner", "capital"


def _describe(doc: Document | None, names: list[str]) -> str:
    """An obfuscated description of the seed: its page's first informative sentence, every chain name masked."""
    if doc is None:
        return "a certain entity"
    text = re.sub(r"^[A-Z][\w ]*\n", "", doc.text).replace("Background:", "")
    for sent in _SENT.split(text.strip())[:6]:
        sent = sent.strip()
        if len(sent.split()) < 6:
            continue
        for n in sorted(names, key=len, reverse=True):
            sent = re.sub(rf"\b{re.escape(n)}\b", "this entity", sent, flags=re.I)
        return "the entity described thus: " + sent[:300].rstrip(".") + "."
    return "a certain entity"


def suggest_answer(doc: Document | None, start: int = 0) -> tuple[str, str] | None:
    """A short attribute of an entity read from its page: ``(attribute, value)``, or None."""
    if doc is None:
        return None
    for k in range(len(_ATTRIBUTES)):
        attr, pat = _ATTRIBUTES[(start + k) % len(_ATTRIBUTES)]
        m = pat.search(doc.text)
        value = m.group(1).strip() if m else ""
        if value and len(value.split()) <= 6 and value.lower() != "none":
            return attr, value
    return None


class TemplateQuestionWriter:
    """``draft(chain, docs) -> Draft`` from relation labels only."""

    backend = "template"
    model = ""
    prompt_version = PROMPT_VERSION

    def draft(self, chain: Chain, docs: dict[str, Document]) -> Draft:
        names = [h.title for h in chain.hops]
        parts = [f"Start with {_describe(docs.get(chain.hops[0].doc_id or ''), names)}"]
        parts += [_relation_phrase(h) + "." for h in chain.hops[1:]]
        last = docs.get(chain.hops[-1].doc_id or "")
        answer, ask = chain.hops[-1].title, "Which entity do you reach last?"
        start = int(hashlib.sha1(chain.chain_id.encode()).hexdigest()[:8], 16)
        if (found := suggest_answer(last, start)) is not None:
            answer, ask = found[1], f"What is the {found[0]} of the entity you reach last?"
        return Draft(question=" ".join(parts) + " " + ask, answer=answer, gold_entities=names)
