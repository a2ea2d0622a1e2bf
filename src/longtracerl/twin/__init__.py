"""``serve-twin``: a scripted OpenAI-compatible model that plays every LLM role of the build, the reward and
eval through our own prompts and parsers (tests, benchmarks, ``build --dry-run``).

It recognises each role from the prompt templates of ``synth``, ``reward`` and ``eval`` (imported, so a prompt
change there keeps it in step), answers as a competent model would, and serves like a GPU endpoint: per-role
latencies and token counts, a cap on sequences in flight, and injected faults. Nothing imports it but the CLI
and tests; the pipeline only ever reaches it over HTTP through its OpenAI backend.
"""
