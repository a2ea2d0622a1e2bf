"""A length curriculum: one training set whose rows go from short to long contexts, built from the same
questions (``longtracerl assemble --from runs/X --max-tokens 16384 ... --curriculum equal``).

The questions of the runs at each L (one build reassembled by ``assemble --from``) are ordered by a seeded
hash and dealt to the stages of a schedule, shortest L first: stage k takes its share of the questions among
those that have a sample at its L (a question whose gold pages do not fit a short L waits for a longer
stage; a stage that runs short passes its deficit on). Each question appears once, at its stage's length.
Rows are written stage by stage through the build's own export writers (slime JSONL, verl parquet, HF
dataset), so the row order IS the curriculum: turn your framework's shuffling off (docs/pipeline.md). With
``export.test_fraction`` the held-out chains are left out of the curriculum and written at the longest L.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from longtracerl.io import OffsetIndex, iter_jsonl, iter_lines, key_of
from longtracerl.pipeline.context import RunContext
from longtracerl.records import Sample


class CurriculumError(ValueError):
    """A schedule that cannot be read or does not fit the lengths assembled; the message names the field."""


class CurriculumStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(..., ge=256, description="L of this stage's rows (one of the --max-tokens given)")
    share: float = Field(..., gt=0, le=1, description="share of the questions trained at this L")


class CurriculumConfig(BaseModel):
    """The schedule: stages from short to long, shares summing to 1."""

    model_config = ConfigDict(extra="forbid")

    stages: list[CurriculumStage] = Field(..., min_length=1)
    name: str | None = Field(None, description="run name of the curriculum [<source>-curriculum]")
    seed: int | None = Field(None, description="seed of the question order [the build's seed]")

    @model_validator(mode="after")
    def _short_to_long(self) -> CurriculumConfig:
        lengths = [s.max_tokens for s in self.stages]
        if lengths != sorted(set(lengths)):
            raise ValueError(f"stages must go from short to long, each length once: {lengths}")
        total = sum(s.share for s in self.stages)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"stage shares must sum to 1 (they sum to {total:g})")
        return self


def equal_schedule(lengths: Sequence[int]) -> CurriculumConfig:
    """The same share at each length, short to long (25% each for four lengths)."""
    ls = sorted(set(lengths))
    return CurriculumConfig(stages=[CurriculumStage(max_tokens=n, share=1 / len(ls)) for n in ls])


def load_schedule(spec: str, lengths: Sequence[int]) -> CurriculumConfig:
    """``equal`` or a YAML file ``{stages: [{max_tokens, share}, ...], name?, seed?}``; every stage's length
    must be one of ``lengths`` (the runs being assembled)."""
    import yaml

    if spec == "equal":
        return equal_schedule(lengths)
    p = Path(spec)
    if not p.is_file():
        raise CurriculumError(f"--curriculum {spec!r}: neither 'equal' nor a YAML file")
    try:
        cfg = CurriculumConfig.model_validate(yaml.safe_load(p.read_text()) or {})
    except (ValidationError, yaml.YAMLError) as e:
        raise CurriculumError(f"{p}: {e}") from None
    unknown = [s.max_tokens for s in cfg.stages if s.max_tokens not in set(lengths)]
    if unknown:
        raise CurriculumError(f"{p}: stages.max_tokens {unknown} not among the lengths assembled "
                              f"({sorted(set(lengths))}); add --max-tokens for each")
    return cfg


def _rank(seed: int, qid: str) -> str:
    return hashlib.sha256(f"{seed}\0curriculum\0{qid}".encode()).hexdigest()


def deal(available: dict[int, set[str]], cfg: CurriculumConfig, seed: int,
         exclude: set[str] | frozenset[str] = frozenset()) -> dict[int, list[str]]:
    """Questions per stage length (see the module docstring); ``available[L]`` = ids with a sample at L."""
    pool = sorted(set().union(*available.values()) - set(exclude), key=lambda q: _rank(seed, q))
    n = len(pool)
    out: dict[int, list[str]] = {}
    taken: set[str] = set()
    cum = 0.0
    carry = 0
    for st in cfg.stages:
        lo = round(cum * n)
        cum += st.share
        want = round(cum * n) - lo + carry
        have = available.get(st.max_tokens, set())
        got = [q for q in pool if q not in taken and q in have][:max(0, want)]
        taken.update(got)
        carry = want - len(got)
        out[st.max_tokens] = got
    for q in pool:  # left over: no sample at the lengths still open; its longest length with a sample
        if q not in taken:
            ls = [st.max_tokens for st in cfg.stages if q in available.get(st.max_tokens, set())]
            if ls:
                out[ls[-1]].append(q)
    return out


def _sample_ids(path: Path) -> list[str]:
    return [key_of(x, "question_id") for x in iter_lines(path)]


def write_curriculum(ctxs: Sequence[RunContext], cfg: CurriculumConfig,
                     log: Callable[[str], Any] | None = None) -> Path:
    """Write ``<out>/<name>/export/`` (every export format of the runs) and ``curriculum.json``; returns the
    run directory. Rewritten whole on every call (each file is renamed into place)."""
    from longtracerl.pipeline.export import export_stream, held_out_keys

    by_len = {c.cfg.assembly.max_tokens: c for c in ctxs}
    missing = [s.max_tokens for s in cfg.stages if s.max_tokens not in by_len]
    if missing:
        raise CurriculumError(f"curriculum stages {missing} have no assembled run")
    first = ctxs[0]
    source = (first.manifest().get("source") or {}).get("name") or first.cfg.name
    out = Path(first.cfg.out) / (cfg.name or f"{source}-curriculum")
    seed = first.cfg.seed if cfg.seed is None else cfg.seed
    ex = first.cfg.export
    ids = {n: _sample_ids(c.samples) for n, c in by_len.items()}
    universe = sorted(set().union(*ids.values()))
    groups = {str(q["question_id"]): str(q["chain_id"]) for _, q in iter_jsonl(first.questions)}
    test_groups = held_out_keys(universe, groups, ex.test_fraction, seed)
    test = {q for q in universe if groups.get(q, q) in test_groups}
    dealt = deal({n: set(v) for n, v in ids.items()}, cfg, seed, exclude=test)
    longest = max(by_len)

    def rows() -> Iterator[Sample]:
        plan = [(st.max_tokens, set(dealt[st.max_tokens])) for st in cfg.stages]
        plan.append((longest, test))  # the held-out side, at the longest length (routed by chain)
        for n, want in plan:
            with OffsetIndex(by_len[n].samples, "question_id") as idx:
                for q in ids[n]:  # the run's own (canonical) order within a stage
                    line = idx.get(q) if q in want else None
                    if line is not None:
                        yield Sample.model_validate_json(line)

    res = export_stream(rows, out / "export", ex.formats, test_fraction=ex.test_fraction, groups=groups,
                        seed=seed, question_ids=lambda: iter(universe))
    counts = res.pop("counts")
    info = {"source": source, "runs": {str(n): str(c.dir) for n, c in sorted(by_len.items())},
            "schedule": cfg.model_dump(mode="json"), "seed": seed,
            "stages": [{"max_tokens": st.max_tokens, "share": st.share, "rows": len(dealt[st.max_tokens])}
                       for st in cfg.stages],
            "train_rows": counts["train"], "test_rows": counts["test"], "exports": res}
    (out / "curriculum.json").write_text(json.dumps(info, indent=2) + "\n")
    if log is not None:
        log(f"[green]curriculum[/] {out}: " + ", ".join(f"{s['rows']} rows at {s['max_tokens']:,}"
                                                         for s in info["stages"]))
    return out
