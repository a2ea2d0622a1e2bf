"""Question synthesis (PAPER.md 2a): obfuscated multi-hop questions from chains, validated, resumable."""

from longtracerl.synth.questions.llm_writer import LLMQuestionWriter, load_prompt
from longtracerl.synth.questions.runner import QuestionStats, question_id, write_one, write_questions
from longtracerl.synth.questions.template import TemplateQuestionWriter
from longtracerl.synth.questions.validate import Draft, ValidationConfig, parse_draft, validate

__all__ = [
    "Draft",
    "LLMQuestionWriter",
    "QuestionStats",
    "TemplateQuestionWriter",
    "ValidationConfig",
    "load_prompt",
    "parse_draft",
    "question_id",
    "validate",
    "write_one",
    "write_questions",
]
