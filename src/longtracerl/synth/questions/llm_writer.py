"""The LLM question writer (PAPER.md 2a): a versioned prompt, JSON output, robust parsing."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from longtracerl.llm.base import ChatLLM
from longtracerl.records import Chain, Document, Usage
from longtracerl.synth.questions.clues import ClueContext
from longtracerl.synth.questions.template import suggest_answer
from longtracerl.synth.questions.validate import Draft, parse_draft

DRAFT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"question": {"type": "string", "maxLength": 600}, "answer": {"type": "string", "maxLength": 80},
                   "gold_entities": {"type": "array", "items": {"type": "string"}},
                   "hop_clues": {"type": "array", "items": {"type": "string", "maxLength": 300}}},
    "required": ["question", "answer", "gold_entities", "hop_clues"],
}


def draft_schema(chain: Chain) -> dict[str, Any]:
    """The output schema for one chain: gold entities limited to the chain's titles (a grammar-constrained
    server then cannot invent one; a free-form model is still checked by the validators)."""
    titles = list(dict.fromkeys(h.title for h in chain.hops))
    props = dict(DRAFT_SCHEMA["properties"])
    props["gold_entities"] = {"type": "array", "items": {"type": "string", "enum": titles}}
    n = len(chain.hops)
    props["hop_clues"] = {**props["hop_clues"], "minItems": n, "maxItems": n}
    return {**DRAFT_SCHEMA, "properties": props}


def load_prompt(version: str) -> str:
    return (resources.files("longtracerl.synth") / "prompts" / f"question_writer_{version}.md").read_text()


class LLMQuestionWriter:
    """``adraft(chain, docs, feedback) -> (Draft | None, raw text, usage)``; the runner validates and retries."""

    backend = "llm"
    deterministic = False  # sampled: a retry (with the rejection fed back) may do better
    clues: ClueContext | None = None  # no graph and search of its own: the runner's are used

    def __init__(self, llm: ChatLLM, *, prompt_version: str = "v2", doc_chars: int = 700,
                 temperature: float = 0.7, max_tokens: int = 1536, structured: bool = True) -> None:
        self.llm = llm
        self.model = llm.model
        self.backend = llm.backend
        self.prompt_version = prompt_version
        self.template = load_prompt(prompt_version)
        self.doc_chars = doc_chars
        self.temperature = temperature
        # a draft of an 8-hop path (question <= 600 chars, 9 clues <= 300 chars each) needs ~1K tokens; 256 cut
        # every paper-preset draft short (found with serve-twin)
        self.max_tokens = max_tokens
        self.structured = structured  # send the JSON schema (response_format); the tolerant parser stays the fallback

    def prompt(self, chain: Chain, docs: dict[str, Document], feedback: str = "") -> str:
        path = "\n".join(f"{i + 1}. {h.title}" + (" (JUMP: not linked to the previous entity)" if h.jumped else
                                                 f" (via: {h.relation})" if h.relation else "")
                         for i, h in enumerate(chain.hops))
        pages = "\n\n".join(f"## {h.title}\n{(docs[h.doc_id].text[:self.doc_chars] if h.doc_id in docs else '')}"
                            for h in chain.hops)
        fb = f"\nYour previous attempt was rejected: {feedback}. Fix that." if feedback else ""
        hint = suggest_answer(docs.get(chain.hops[-1].doc_id or ""))
        example = json.dumps({"question": "...", "answer": hint[1] if hint else "...",
                              "gold_entities": [h.title for h in chain.hops],
                              "hop_clues": ["..."] * len(chain.hops)}, ensure_ascii=False)
        return self.template.format(path=path, documents=pages, feedback=fb, example=example,
                                    last=chain.hops[-1].title)

    async def adraft(self, chain: Chain, docs: dict[str, Document], feedback: str = "",
                     seed: int = 0) -> tuple[Draft | None, str, Usage]:
        resp = await self.llm.chat([{"role": "user", "content": self.prompt(chain, docs, feedback)}],
                                   json_schema=draft_schema(chain) if self.structured else None, temperature=self.temperature,
                                   max_tokens=self.max_tokens, seed=seed)
        return parse_draft(resp.content), resp.content, resp.usage
