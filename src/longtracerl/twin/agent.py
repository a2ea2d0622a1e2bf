"""The twin as the search agent, in either of our protocols (OpenAI tool calls, tagged text).

For a question it wrote (its memory holds the path, the clues and the answer) it reads like a careful model:
sometimes it first follows an unhelpful search and opens a page that does not help, then it finds the first
entity by its clue (by its name when the clue alone does not surface it), reads each page and looks up the
next entity named there, opens the gold pages, and answers citing them; with probability ``1 - skill`` an
attempt ends with a wrong answer. With tool calls it acts in parallel (opens what it found and searches the
next name in one turn), as current models do; with the text protocol it takes one action per turn.

For a question it did not write it behaves as a weak model: it searches the question's words, opens a hit or
two, and then gives up or guesses a name it read.

Every decision is a function of the conversation and the request's seed, so a retried request (after a fault,
on another endpoint) gets the same reply.
"""

from __future__ import annotations

import json
import random
import re

from longtracerl.twin.brain import Reply
from longtracerl.twin.memory import TwinMemory, Written
from longtracerl.twin.roles import OPENED, RESULT_LINE, AgentState, Request, agent_state

_WORD = re.compile(r"[A-Za-z0-9][\w'-]*")
_STOP = frozenset("the a an of to in on at by for with from and or is was that this which what who whose its it "
                  "entity described thus start next go then again set aside namely one last reached give name "
                  "page mentions".split())


def keywords(text: str, n: int = 8, skip: int = 0) -> str:
    words = [w for w in _WORD.findall(text) if w.lower() not in _STOP]
    return " ".join(words[skip:skip + n])


class AgentPolicy:
    """``act(request, rng) -> Reply`` for one agent turn."""

    def __init__(self, memory: TwinMemory, *, skill: float = 0.75, detour: float = 0.3) -> None:
        self.memory = memory
        self.skill = skill
        self.detour = detour

    def act(self, req: Request, rng: random.Random) -> Reply:
        st = agent_state(req)
        known = self.memory.recall(st.question)
        acts = self._known(st, known, rng) if known is not None else self._unknown(st, rng)
        if req.kind == "agent_text":
            acts = acts[:1]  # one action per turn
            name, args, thought = acts[0]
            return Reply(content=f"{thought}\n{_render(name, args)}", thought=thought)
        calls = [{"id": f"call_{st.turns}_{i}", "type": "function",
                  "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}
                 for i, (name, args, _) in enumerate(acts)]
        return Reply(content="", tool_calls=calls, thought=acts[0][2])

    # ------------------------------------------------------------------ a question it wrote
    def _known(self, st: AgentState, w: Written, rng: random.Random) -> list[tuple[str, dict[str, object], str]]:
        if st.last_turn or st.turns >= st.max_turns - 1:
            return [self._answer(st, w, rng)]
        detour_q = keywords(st.question, 6)
        if not st.actions and rng.random() < self.detour:
            return [("search", {"query": detour_q}, "Let me search the question's own words first.")]
        opened = st.opened
        if st.actions and st.actions[0][0] == "search" and st.actions[0][1] == detour_q and len(st.actions) == 1:
            golds = {t.casefold() for t in w.titles}
            other = [did for did, title in RESULT_LINE.findall(st.actions[0][2]) if title.strip().casefold() not in golds]
            if other:
                return [("open", {"doc_id": other[0].strip()}, "This result might describe the first entity.")]
        seen = st.seen
        out: list[tuple[str, dict[str, object], str]] = []
        budget = st.max_open - len(set(opened))
        for i, title in enumerate(w.titles):
            did = seen.get(title.casefold())
            if did is not None and did in opened:
                continue
            if did is not None:
                if budget <= 0:
                    break
                out.append(("open", {"doc_id": did}, f"Result {title!r} looks like step {i + 1}; reading it."))
                budget -= 1
                continue
            clue = w.clues[i] if i < len(w.clues) else ""
            if i == 0 and clue and clue not in st.queries:
                out.append(("search", {"query": clue}, "Searching the first entity's description."))
                break
            if title not in st.queries:
                why = "The previous page names the next entity" if i else "The description points to one name"
                out.append(("search", {"query": title}, f"{why}: searching {title!r}."))
                break
            # searched by name and not found: skip this step and go on with the next one
        return out or [self._answer(st, w, rng)]

    def _answer(self, st: AgentState, w: Written, rng: random.Random) -> tuple[str, dict[str, object], str]:
        opened = list(dict.fromkeys(st.opened))
        seen = st.seen
        gold_ids = [seen[t.casefold()] for t in w.titles if seen.get(t.casefold()) in opened]
        if rng.random() < self.skill:
            return ("answer", {"text": w.answer, "cited_doc_ids": gold_ids},
                    "The last page gives the answer; citing the pages of the path.")
        wrong = [t for t in (OPENED.match(obs) for n, _, obs in st.actions if n == "open") if t is not None]
        guess = "unknown" if not wrong or rng.random() < 0.5 else _title_of(st, wrong[0].group(1))
        return ("answer", {"text": guess, "cited_doc_ids": gold_ids[:1]}, "I am not sure; this is my best guess.")

    # ------------------------------------------------------------------ a question it does not know
    def _unknown(self, st: AgentState, rng: random.Random) -> list[tuple[str, dict[str, object], str]]:
        n_search = sum(1 for a in st.actions if a[0] == "search")
        opened = st.opened
        if st.last_turn or st.turns >= st.max_turns - 1 or (n_search >= 2 and st.actions[-1][0] == "open"):
            if opened and rng.random() < 0.5:
                return [("answer", {"text": _title_of(st, opened[0]), "cited_doc_ids": opened[:1]},
                         "A guess from what I read.")]
            return [("answer", {"text": "I could not find the answer.", "cited_doc_ids": []},
                     "The pages I read do not answer it.")]
        last = st.actions[-1] if st.actions else None
        if last is not None and last[0] == "search":
            hits = [did.strip() for did, _ in RESULT_LINE.findall(last[2]) if did.strip() not in opened]
            if hits:
                return [("open", {"doc_id": hits[0]}, "Reading the top result.")]
        return [("search", {"query": keywords(st.question, 8, skip=8 * n_search)}, "Searching the question's words.")]


def _title_of(st: AgentState, doc_id: str) -> str:
    for name, _, obs in st.actions:
        m = OPENED.match(obs) if name == "open" else None
        if m is not None and m.group(1) == doc_id:
            return obs[m.end():].split("\n", 1)[0].strip()
    return doc_id


def _render(name: str, args: dict[str, object]) -> str:
    if name == "answer":
        cited = args.get("cited_doc_ids")
        ids = [str(c) for c in cited] if isinstance(cited, list) else []
        return f'<answer cite="{",".join(ids)}">{args.get("text", "")}</answer>'
    arg = args.get("query") if name == "search" else args.get("doc_id")
    return f"<{name}>{arg}</{name}>"
