"""The LLM search agent (PAPER.md 2b): search, open, answer with citations, over tools or tagged text.

``protocol="tools"`` uses OpenAI tool calling; ``protocol="text"`` the tagged actions of
``text_protocol`` for servers without it (llama.cpp's server ignores ``tools`` unless a chat format
with function calling is configured). In tools mode a reply without a tool call is still parsed as
tagged text before it is counted as an error, so a model that ignores the tools is not wasted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from longtracerl.corpus.base import SearchBackend
from longtracerl.llm.base import ChatLLM, ChatResponse, LLMError
from longtracerl.records import Question, Trajectory, Usage
from longtracerl.synth.agent.text_protocol import (
    DEMO_MESSAGES,
    STOP_SEQUENCES,
    SYSTEM_PROMPT,
    ParseError,
    TextAction,
    parse_action,
)
from longtracerl.synth.agent.tools import CHARS_PER_TOKEN, TOOL_SCHEMAS, ToolEnv

Protocol = Literal["tools", "text"]

TOOLS_SYSTEM_PROMPT = """You answer a multi-hop question by searching a collection of documents.
Use the tools: search(query) to find documents, open(doc_id) to read one, and answer(text, cited_doc_ids)
once you know the short answer, citing the ids of the documents it relies on.
You have at most {max_turns} turns and may open at most {max_open} documents."""

LAST_TURN_NOTE = "This is your last turn: give your final answer now."


def call_seed(base: int, question_id: str, attempt: int, turn: int) -> int:
    """A stable per-call seed: reruns send identical requests, so the LLM cache makes them free."""
    h = hashlib.sha256(f"{base}:{question_id}:{attempt}:{turn}".encode()).digest()
    return int.from_bytes(h[:4], "big") & 0x7FFFFFFF


ELIDED = "[earlier observation removed to fit the context]"


def elide_old_observations(messages: list[dict[str, Any]], max_chars: int, start: int = 0) -> int:
    """Blank the oldest observations until the conversation fits ``max_chars``; return how many.

    Observations (tool results, ``<observation>`` messages) dominate the context and the latest ones
    matter most; the first ``start`` messages (system prompt, demo, question) and the model's own
    actions are kept.
    """
    total = sum(len(str(m.get("content") or "")) for m in messages)
    n = 0
    for m in messages[start:]:
        if total <= max_chars:
            break
        content = str(m.get("content") or "")
        is_obs = m["role"] == "tool" or (m["role"] == "user" and content.startswith("<observation>"))
        if is_obs and content != ELIDED and m is not messages[-1]:
            total -= len(content) - len(ELIDED)
            m["content"] = ELIDED
            n += 1
    return n


class LLMSearchAgent:
    """Drives a ``ChatLLM`` through search/open/answer turns; one ``solve`` call is one attempt.

    ``obs_max_tokens`` bounds each observation (about 4 characters a token); ``context_max_tokens``
    (optional) blanks the oldest observations when the conversation grows past it; ``demo`` puts a worked
    exchange before the question in text mode; ``seed`` makes every call's seed stable per
    (question, attempt, turn) so cached reruns are free and identical.
    """

    def __init__(
        self,
        llm: ChatLLM,
        search: SearchBackend,
        *,
        protocol: Protocol = "tools",
        max_turns: int = 16,
        max_open: int = 8,
        obs_max_tokens: int = 2000,
        k: int = 5,
        temperature: float = 0.7,
        max_tokens: int = 512,
        seed: int = 0,
        demo: bool = True,
        context_max_tokens: int | None = None,
    ) -> None:
        if protocol not in ("tools", "text"):
            raise ValueError(f"unknown agent protocol {protocol!r} (expected 'tools' or 'text')")
        self.llm = llm
        self.search = search
        self.protocol = protocol
        self.max_turns = max_turns
        self.max_open = max_open
        self.obs_max_chars = obs_max_tokens * CHARS_PER_TOKEN
        self.k = k
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.demo = demo
        self.context_max_chars = context_max_tokens * CHARS_PER_TOKEN if context_max_tokens else None
        self.name = f"llm_{protocol}:{getattr(llm, 'model', '') or getattr(llm, 'backend', 'llm')}"

    def _messages(self, question: Question) -> list[dict[str, Any]]:
        tmpl = TOOLS_SYSTEM_PROMPT if self.protocol == "tools" else SYSTEM_PROMPT
        system = tmpl.format(max_turns=self.max_turns, max_open=self.max_open)
        demo = [dict(m) for m in DEMO_MESSAGES] if self.protocol == "text" and self.demo else []
        return [
            {"role": "system", "content": system},
            *demo,
            {"role": "user", "content": f"Question: {question.question}"},
        ]

    async def solve(self, question: Question, attempt: int) -> Trajectory:
        env = ToolEnv(self.search, k=self.k, max_open=self.max_open, obs_max_chars=self.obs_max_chars)
        messages = self._messages(question)
        n_fixed = len(messages)
        usage = Usage()
        end_reason = "turn_limit"
        for turn in range(self.max_turns):
            if self.context_max_chars is not None:
                elide_old_observations(messages, self.context_max_chars, start=n_fixed)
            try:
                resp = await self.llm.chat(
                    messages,
                    tools=TOOL_SCHEMAS if self.protocol == "tools" else None,
                    temperature=self.temperature,
                    max_tokens=self.max_tokens,
                    seed=call_seed(self.seed, question.question_id, attempt, turn),
                    stop=STOP_SEQUENCES if self.protocol == "text" else None,
                )
            except LLMError as e:
                env.error(f"llm_error: {e}")
                end_reason = "llm_error"
                break
            # summed from the responses (not wall-clock) so cached reruns write identical records
            usage = usage.add(resp.usage.model_copy(update={"calls": resp.usage.calls or 1}))
            next_is_last = turn == self.max_turns - 2
            if self.protocol == "tools" and resp.tool_calls:
                await self._tool_turn(env, messages, resp, next_is_last)
            else:
                await self._text_turn(env, messages, resp, next_is_last)
            if env.final_answer is not None:
                end_reason = "answered" if env.final_answer else "empty_answer"
                break
        return env.trajectory(question.question_id, attempt, agent=self.name, end_reason=end_reason, usage=usage)

    # ------------------------------------------------------------ one turn per protocol

    async def _run_text_action(self, env: ToolEnv, action: TextAction) -> str:
        if action.name == "search":
            return (await env.search(action.arg, action.thought))[0]
        if action.name == "open":
            return await env.open(action.arg, action.thought)
        env.answer(action.arg, action.cited, action.thought)
        return ""

    async def _text_turn(
        self, env: ToolEnv, messages: list[dict[str, Any]], resp: ChatResponse, next_is_last: bool
    ) -> None:
        content = resp.content or ""
        try:
            action = parse_action(content)
        except ParseError as e:
            msg = str(e)
            if resp.finish_reason == "length":
                msg = f"reply cut at the token limit before an action ({msg})"
            obs = env.error(msg, thought=content.strip()[:2000] or None)
            messages.append({"role": "assistant", "content": content})
        else:
            obs = await self._run_text_action(env, action)
            head = f"{action.thought}\n" if action.thought else ""
            messages.append({"role": "assistant", "content": head + action.raw})
        if env.final_answer is None:
            # in tools mode a tool-less reply gets its observation as a user message too
            note = f"\n{LAST_TURN_NOTE}" if next_is_last else ""
            messages.append({"role": "user", "content": f"<observation>\n{obs}\n</observation>{note}"})

    async def _tool_turn(
        self, env: ToolEnv, messages: list[dict[str, Any]], resp: ChatResponse, next_is_last: bool
    ) -> None:
        calls: list[dict[str, Any]] = []
        for i, tc in enumerate(resp.tool_calls):
            cid = str(tc.get("id") or f"call_{len(messages)}_{i}")
            calls.append(
                {
                    "id": cid,
                    "type": "function",
                    "function": {"name": str(tc.get("name", "")), "arguments": str(tc.get("arguments", ""))},
                }
            )
        # content "" not None: llama.cpp's server rejects a null assistant content
        messages.append({"role": "assistant", "content": resp.content or "", "tool_calls": calls})
        thought = (resp.content or "").strip() or None
        for call in calls:
            fn = call["function"]
            obs = await self._run_tool_call(env, fn["name"], fn["arguments"], thought)
            thought = None
            if env.final_answer is not None:
                return
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": obs})
        if next_is_last:
            messages[-1]["content"] += f"\n{LAST_TURN_NOTE}"

    async def _run_tool_call(self, env: ToolEnv, name: str, arguments: str, thought: str | None) -> str:
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as e:
            return env.error(f"arguments of {name or 'tool call'} are not valid JSON ({e.msg})", thought)
        if not isinstance(args, dict):
            return env.error(f"arguments of {name or 'tool call'} must be a JSON object", thought)
        if name == "search":
            return (await env.search(str(args.get("query", "")), thought))[0]
        if name == "open":
            return await env.open(str(args.get("doc_id", args.get("id", ""))), thought)
        if name == "answer":
            cited = args.get("cited_doc_ids", args.get("cite", []))
            if isinstance(cited, str):
                cited = [c for c in cited.split(",") if c.strip()]
            if not isinstance(cited, list):
                cited = []
            env.answer(str(args.get("text", args.get("answer", ""))), [str(c) for c in cited], thought)
            return ""
        return env.error(f"unknown tool {name!r}; use search, open or answer", thought)
