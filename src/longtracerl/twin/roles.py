"""Which LLM role a request plays, read from OUR prompt templates (imported, never copied).

Each template is turned into a regular expression (its literal text, its ``{placeholders}`` as groups), so
the twin both recognises a prompt and reads its fields back; when a template changes in ``synth``,
``reward`` or ``eval`` the twin follows without an edit here.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from longtracerl.eval.prompts import JUDGE_PROMPTS, PROMPTS
from longtracerl.graph.chooser import Candidate
from longtracerl.llm.walk_chooser import LLMWalkChooser
from longtracerl.records import Hop
from longtracerl.reward import judge as reward_judge
from longtracerl.synth.agent.llm_agent import LAST_TURN_NOTE, TOOLS_SYSTEM_PROMPT
from longtracerl.synth.agent.text_protocol import SYSTEM_PROMPT
from longtracerl.synth.questions.llm_writer import load_prompt

ROLES = ("chooser", "writer", "agent", "judge", "eval", "other")


@dataclass
class Request:
    """One chat request as the twin sees it: its role, the fields read from the prompt, the raw body."""

    role: str
    kind: str  # finer: chooser | writer | agent_tools | agent_text | judge_hle | judge_aa_lcr | eval_<bench> | other
    fields: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])


def template_regex(template: str) -> re.Pattern[str]:
    """A regex matching ``template`` rendered with any values; each placeholder is a named group (a repeated
    one must repeat its first value)."""
    out, seen = [], set()
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(re.escape(literal))
        if name is None:
            continue
        if name in seen:
            out.append(f"(?P={name})")
        else:
            seen.add(name)
            out.append(f"(?P<{name}>.*?)")
    return re.compile("".join(out) + r"\Z", re.S)


def _chooser_prefix() -> str:
    """The fixed opening of the walk chooser's prompt (rendered by ``LLMWalkChooser.prompt`` itself)."""
    sentinel = "\x00"
    text = LLMWalkChooser.prompt(cast(Any, None), [Hop(entity_id="s", title=sentinel)],
                                 [Candidate(entity_id="c", title="c")])
    return text.split(sentinel, 1)[0].rsplit("\n", 1)[0]


@lru_cache(maxsize=1)
def _templates() -> list[tuple[str, str, re.Pattern[str]]]:
    """(role, kind, regex) of every user-message template, most specific first."""
    out: list[tuple[str, str, re.Pattern[str]]] = []
    for version in ("v2", "v1"):
        try:
            out.append(("writer", f"writer_{version}", template_regex(load_prompt(version))))
        except FileNotFoundError:
            continue
    out.append(("judge", "judge_hle", template_regex(reward_judge.JUDGE_TEMPLATES["hle"])))
    out.append(("judge", "judge_aa_lcr", template_regex(reward_judge.JUDGE_TEMPLATES["aa_lcr"])))
    for bench, t in JUDGE_PROMPTS.items():
        out.append(("judge", f"eval_judge_{bench}", template_regex(t)))
    for bench, t in PROMPTS.items():
        if template_regex(t).pattern.startswith("(?P"):  # a bare "{prompt}" matches anything: not a signature
            continue
        out.append(("eval", f"eval_{bench}", template_regex(t)))
    return out


@lru_cache(maxsize=1)
def _system_templates() -> list[tuple[str, re.Pattern[str]]]:
    return [("agent_tools", template_regex(TOOLS_SYSTEM_PROMPT)), ("agent_text", template_regex(SYSTEM_PROMPT))]


def _text(m: dict[str, Any]) -> str:
    c = m.get("content")
    if isinstance(c, list):  # OpenAI content parts
        return "".join(str(p.get("text", "")) for p in c if isinstance(p, dict))
    return str(c or "")


def classify(body: dict[str, Any]) -> Request:
    """The role of a chat request (``other`` when no template of ours matches)."""
    msgs = body.get("messages") or []
    if msgs and msgs[0].get("role") == "system":
        sys_text = _text(msgs[0])
        for kind, rx in _system_templates():
            if (m := rx.match(sys_text)) is not None:
                return Request("agent", kind, m.groupdict(), body)
    user = next((_text(m) for m in reversed(msgs) if m.get("role") == "user"), "")
    first_user = next((_text(m) for m in msgs if m.get("role") == "user"), "")
    if first_user.startswith(_chooser_prefix()):
        return Request("chooser", "chooser", {"prompt": first_user}, body)
    for role, kind, rx in _templates():
        if (m := rx.match(first_user)) is not None:
            return Request(role, kind, m.groupdict(), body)
    return Request("other", "other", {"prompt": user}, body)


# ---------------------------------------------------------------------------- reading the agent's history


@dataclass
class AgentState:
    """What the agent conversation shows so far: the question, the actions taken and what they returned."""

    question: str
    actions: list[tuple[str, str, str]]  # (name, argument, observation)
    turns: int
    max_turns: int
    max_open: int
    last_turn: bool

    @property
    def seen(self) -> dict[str, str]:
        """Result titles (casefolded) -> doc id, from every search observation."""
        out: dict[str, str] = {}
        for name, _, obs in self.actions:
            if name == "search":
                for did, title in RESULT_LINE.findall(obs):
                    out.setdefault(title.strip().casefold(), did.strip())
        return out

    @property
    def opened(self) -> list[str]:
        return [m.group(1) for name, _, obs in self.actions if name == "open"
                and (m := OPENED.match(obs)) is not None]

    @property
    def queries(self) -> list[str]:
        return [arg for name, arg, _ in self.actions if name == "search"]


RESULT_LINE = re.compile(r"^\[\d+\] doc_id=(.+?) \| (.+)$", re.M)
OPENED = re.compile(r"Document (.+?): ")
_TEXT_ACTION = re.compile(r"<\s*(search|open|answer)\b[^>]*>(.*?)(?:<\s*/\s*\1\s*>|$)", re.I | re.S)


def agent_state(req: Request) -> AgentState:
    """Read the question and the (action, observation) pairs from an agent conversation, in either protocol."""
    msgs = req.messages
    start = max((i for i, m in enumerate(msgs) if m.get("role") == "user" and _text(m).startswith("Question: ")),
                default=0)
    question = _text(msgs[start]).removeprefix("Question: ").strip() if msgs else ""
    actions: list[tuple[str, str, str]] = []
    turns = 0
    results = {str(m.get("tool_call_id")): _text(m) for m in msgs[start:] if m.get("role") == "tool"}
    for i, m in enumerate(msgs[start + 1:], start + 1):
        if m.get("role") != "assistant":
            continue
        turns += 1
        for tc in m.get("tool_calls") or []:
            fn = tc.get("function") or {}
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                args = {}
            arg = str(args.get("query") or args.get("doc_id") or args.get("text") or "") if isinstance(args, dict) else ""
            actions.append((str(fn.get("name", "")), arg, results.get(str(tc.get("id")), "")))
        if not m.get("tool_calls"):
            found = _TEXT_ACTION.search(_text(m))
            nxt = msgs[i + 1] if i + 1 < len(msgs) else {}
            obs = _text(nxt).removeprefix("<observation>").strip() if nxt.get("role") == "user" else ""
            if found is not None:
                actions.append((found.group(1).lower(), found.group(2).strip(), obs))
    fields = req.fields
    last = bool(msgs) and LAST_TURN_NOTE in _text(msgs[-1])
    return AgentState(question=" ".join(question.split()), actions=actions, turns=turns,
                      max_turns=int(fields.get("max_turns") or 12), max_open=int(fields.get("max_open") or 8),
                      last_turn=last)
