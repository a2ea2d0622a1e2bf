"""Prompt templates in our own words that keep each benchmark's required answer format.

Templates use named placeholders (``{question}``, ``{documents}`` ...). ``--prompt-file`` and
``--judge-prompt-file`` load any other template, e.g. a benchmark's published wording; a placeholder the
benchmark does not provide is an error naming it and the ones available.
"""

from __future__ import annotations

import string
from pathlib import Path

PROMPTS: dict[str, str] = {
    "aa-lcr": (
        "Read the documents below, then answer the question that follows them.\n\n"
        "=== DOCUMENTS ===\n{documents}\n=== END OF DOCUMENTS ===\n\n"
        "Question: {question}\n\n"
        "Answer using only what the documents say."
    ),
    "frames": (
        "Here are Wikipedia articles that may help.\n\n{articles}\n\n"
        "Using these articles, answer the question below. Give the final answer clearly at the end.\n\n"
        "Question: {question}"
    ),
    "longbench-v2": (
        "Read the text below and answer the multiple-choice question after it.\n\n<text>\n{context}\n</text>\n\n"
        "Question: {question}\n"
        "(A) {choice_A}\n(B) {choice_B}\n(C) {choice_C}\n(D) {choice_D}\n\n"
        "Which single option is most likely correct? Reply in exactly this form: "
        "\"The correct answer is (X)\", where X is the letter."
    ),
    "longbench-v2-cot": (
        "Read the text below and answer the multiple-choice question after it.\n\n<text>\n{context}\n</text>\n\n"
        "Question: {question}\n"
        "(A) {choice_A}\n(B) {choice_B}\n(C) {choice_C}\n(D) {choice_D}\n\n"
        "Work through the question step by step first. Then finish with one line in exactly this form: "
        "\"The correct answer is (X)\", where X is the letter."
    ),
    # LongReason's own prompt already holds the context, the question, the options and its answer format
    "longreason": "{prompt}",
}

# The named placeholders each benchmark's items provide to a prompt template.
FIELDS: dict[str, set[str]] = {
    "aa-lcr": {"documents", "question"},
    "frames": {"articles", "question"},
    "longbench-v2": {"context", "question", "choice_A", "choice_B", "choice_C", "choice_D"},
    "longreason": {"prompt", "question", "background", "final_inquiry"},
}

JUDGE_PROMPTS: dict[str, str] = {
    "aa-lcr": (
        "You check answers against an official answer.\n\n"
        "Question (context only): {question}\n"
        "Official answer: {gold}\n"
        "Answer to check: {response}\n\n"
        "The answer to check is correct when it agrees with the official answer. "
        "Reply with one word only: CORRECT or INCORRECT."
    ),
    "frames": (
        "Decide whether a model's answer to a question means the same as the reference answer.\n\n"
        "Question: {question}\n"
        "Reference answer: {gold}\n"
        "Model answer: {response}\n\n"
        "Focus on the facts the reference asks for; ignore wording and extra detail that does not contradict it. "
        "Explain briefly, then end with a last line \"Decision: TRUE\" if the model answer is right, or "
        "\"Decision: FALSE\" if it is not."
    ),
}


class TemplateError(ValueError):
    pass


def placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def load_template(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise TemplateError(f"{p}: no such template file")
    text = p.read_text(encoding="utf-8")
    if not text.strip():
        raise TemplateError(f"{p}: empty template")
    try:
        placeholders(text)
    except ValueError as e:
        raise TemplateError(f"{p}: not a valid template ({e}); write literal braces as {{{{ and }}}}") from None
    return text


def check_template(template: str, available: set[str], where: str) -> None:
    unknown = placeholders(template) - available
    if unknown:
        raise TemplateError(f"{where}: unknown placeholder(s) {', '.join(sorted(unknown))}; "
                            f"available: {', '.join(sorted(available))}")


def render(template: str, values: dict[str, str]) -> str:
    """Fill named placeholders; values are inserted verbatim (braces inside documents are safe)."""
    return template.format_map(values)
