"""longtracerl: the LongTraceRL method (PAPER.md) as a usable toolkit.

Stages, one folder each: ``corpus`` (ingest + search), ``graph`` (graph + walks), ``llm`` (LLM access),
``synth`` (questions, search agent, distractors, assembly), ``pipeline`` (resumable build),
``reward`` (rubric + outcome + group combination + server + adapters), ``train`` (GRPO), ``eval``.
"""

__version__ = "0.1.0"
