"""The tagged-action text protocol, for models and servers without tool calling.

Actions: ``<search>query</search>``, ``<open>doc_id</open>``, ``<answer cite="id1,id2">text</answer>``.
Parsing is lenient because small models are sloppy: tags in any case, a missing closing tag (the
server stops *at* the closing tag, which it then omits), ``cite`` in single, double or no quotes or as
an inner ``<cite>`` element, and a ``search: ...`` / ``search("...")`` line as a last resort. The
first action in the reply wins; the text before it is kept as the step's thought.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ACTIONS = ("search", "open", "answer")
STOP_SEQUENCES = ["</search>", "</open>", "</answer>", "<observation>"]

_OPEN_TAG = re.compile(r"<\s*(search|open|answer)\b([^>]*)>", re.I)
_NEXT_TAG = re.compile(r"<\s*/?\s*[a-zA-Z]")
_CITE_ATTR = re.compile(r"\bcit(?:e|es|ed|ations?)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))", re.I)
_CITE_ELEM = re.compile(r"<\s*cite\s*>(.*?)(?:<\s*/\s*cite\s*>|$)", re.I | re.S)
_LINE_ACTION = re.compile(
    r"^\s*(?:action\s*:\s*)?(search|open|answer)\s*(?::|\(\s*)(.*?)\)?\s*$", re.I | re.M
)


@dataclass
class TextAction:
    name: str  # "search" | "open" | "answer"
    arg: str  # the query, the doc id, or the answer text
    cited: list[str] = field(default_factory=list)
    thought: str | None = None
    raw: str = ""  # the action as the model should have written it, for the conversation history


class ParseError(ValueError):
    """The reply holds no usable action; the message is shown to the model as the observation."""


def split_ids(s: str) -> list[str]:
    """Comma- or semicolon-separated doc ids (ids may contain spaces, so spaces do not split)."""
    return [p.strip().strip("\"'[]") for p in re.split(r"[,;]", s) if p.strip().strip("\"'[]")]


def _thought(text: str) -> str | None:
    t = text.strip()
    return t or None


def parse_action(text: str) -> TextAction:
    """The first action of a reply; raises ParseError with a message meant for the model."""
    m = _OPEN_TAG.search(text or "")
    if m is not None:
        name, attrs = m.group(1).lower(), m.group(2)
        rest = text[m.end() :]
        close = re.search(rf"<\s*/\s*{name}\s*>", rest, re.I)
        if close is not None:
            body = rest[: close.start()]
        else:
            nxt = _NEXT_TAG.search(rest)
            # an unclosed answer may carry an inner <cite> element: keep it in the body
            if name == "answer" and nxt is not None and re.match(r"<\s*cite\b", rest[nxt.start() :], re.I):
                body = rest
            else:
                body = rest[: nxt.start()] if nxt is not None else rest
        cited: list[str] = []
        if name == "answer":
            a = _CITE_ATTR.search(attrs)
            if a is not None:
                cited = split_ids(next(g for g in a.groups() if g is not None))
            inner = _CITE_ELEM.search(body)
            if inner is not None:
                cited += [c for c in split_ids(inner.group(1)) if c not in cited]
                body = body[: inner.start()] + body[inner.end() :]
        arg = body.strip()
        if not arg:
            raise ParseError(f"empty <{name}> action; write <{name}>...</{name}>")
        return TextAction(
            name=name,
            arg=arg,
            cited=cited,
            thought=_thought(text[: m.start()]),
            raw=_render(name, arg, cited),
        )
    lm = _LINE_ACTION.search(text or "")
    if lm is not None and lm.group(2).strip().strip("\"'"):
        name, arg = lm.group(1).lower(), lm.group(2).strip().strip("\"'")
        return TextAction(
            name=name, arg=arg, thought=_thought(text[: lm.start()]), raw=_render(name, arg, [])
        )
    if not (text or "").strip():
        raise ParseError("empty reply; write exactly one action: <search>, <open> or <answer>")
    raise ParseError(
        "no action found; write exactly one of <search>query</search>, <open>doc_id</open>, "
        '<answer cite="doc_id,...">answer</answer>'
    )


def _render(name: str, arg: str, cited: list[str]) -> str:
    if name == "answer":
        return f'<answer cite="{",".join(cited)}">{arg}</answer>'
    return f"<{name}>{arg}</{name}>"


SYSTEM_PROMPT = """You answer a multi-hop question by searching a collection of documents.
Each turn, think briefly, then write exactly ONE action:
<search>keywords</search>   search the collection; you get document ids, titles and snippets
<open>doc_id</open>   read one document (use a doc_id from the search results)
<answer cite="doc_id1,doc_id2">short answer</answer>   your final answer, citing the documents it relies on
You have at most {max_turns} turns and may open at most {max_open} documents.
After each action you receive an <observation>.

Example:
I need the founder of the company first.
<search>Les Films du Losange founder</search>"""

# A worked exchange placed before the real question: small models copy a demonstrated format far more
# reliably than they follow a described one (measured with the bundled 135M model: no action at all
# without it, an action in most replies with it). The pages are invented and not in any corpus.
DEMO_MESSAGES: list[dict[str, str]] = [
    {"role": "user", "content": "Question: In which country was the director of the film Amélie born?"},
    {"role": "assistant", "content": "<search>Amélie film director</search>"},
    {
        "role": "user",
        "content": '<observation>\nResults for "Amélie film director":\n[1] doc_id=demo_amelie | '
        "Amélie\n    Amélie is a 2001 romantic comedy film directed by Jean-Pierre Jeunet.\n</observation>",
    },
    {"role": "assistant", "content": "<open>demo_jeunet</open>"},
    {
        "role": "user",
        "content": "<observation>\nDocument demo_jeunet: Jean-Pierre Jeunet\nJean-Pierre Jeunet "
        "(born 3 September 1953 in Roanne, France) is a French film director.\n</observation>",
    },
    {"role": "assistant", "content": '<answer cite="demo_amelie,demo_jeunet">France</answer>'},
]
