"""Read a build's run directory for the viewer: tolerant of half-written runs, never loads ``messages``.

The viewer must open a run that is still being built or was killed: a torn last line is skipped, a
malformed line elsewhere is skipped and reported (file and line), a missing stage file is reported.
Everything that was skipped or is absent ends up in ``RunData.problems`` and on the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGE_FILES = ["chains.jsonl", "questions.jsonl", "trajectories.jsonl", "samples.jsonl", "rejected.jsonl"]
# fields of a sample row the viewer never needs (the assembled prompt: hundreds of thousands of characters)
HEAVY_SAMPLE_FIELDS = ("messages",)


def iter_rows(path: Path, problems: list[str], *, skip_fields: tuple[str, ...] = ()
              ) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """Yield ``(line_no, byte_offset, obj)`` of a JSONL file, skipping (and reporting) bad lines."""
    if not path.exists():
        return
    offset = 0
    with path.open("rb") as f:
        for i, raw in enumerate(f, start=1):
            start = offset
            offset += len(raw)
            if not raw.strip():
                continue
            torn = not raw.endswith(b"\n")
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as e:
                if torn:
                    problems.append(f"{path.name}:{i}: torn last line ({len(raw):,} bytes) skipped: "
                                    "the run is still being written or was killed")
                else:
                    problems.append(f"{path.name}:{i}: not valid JSON ({e.msg}), line skipped")
                continue
            if not isinstance(obj, dict):
                problems.append(f"{path.name}:{i}: expected a JSON object, line skipped")
                continue
            for k in skip_fields:
                obj.pop(k, None)
            yield i, start, obj


def read_json(path: Path, problems: list[str]) -> Any:
    """A JSON file, or None (reported) when absent or unreadable."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        problems.append(f"{path.name}: unreadable ({e}); ignored")
        return None


def read_yaml(path: Path, problems: list[str]) -> dict[str, Any]:
    import yaml

    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        problems.append(f"{path.name}: unreadable ({e}); ignored")
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class RunData:
    """What the viewer knows of a build run: records by id, problems found while reading."""

    dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] | None = None
    chains: dict[str, dict[str, Any]] = field(default_factory=dict)
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    questions_by_chain: dict[str, str] = field(default_factory=dict)
    trajectories: dict[str, dict[str, Any]] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    n_samples: int = 0  # rows in samples.jsonl (``samples`` may hold only the first ones)
    n_rejected: int = 0

    @property
    def name(self) -> str:
        return str(self.config.get("name") or self.dir.name)


def load_run(run_dir: Path | str, max_rows: int | None = None) -> RunData:
    """Read every stage file that exists; report the ones that do not.

    With ``max_rows`` only the first ``max_rows`` samples and rejections are kept (all are counted), and
    only the chains, questions and trajectories they refer to: what a static page of that many rows needs,
    in memory bounded whatever the size of the run."""
    d = Path(run_dir)
    rd = RunData(dir=d)
    if not d.is_dir():
        rd.problems.append(f"{d}: no such run directory")
        return rd
    p = rd.problems
    rd.config = read_yaml(d / "config.yaml", p)
    rd.manifest = read_json(d / "manifest.json", p) or {}
    rd.stats = read_json(d / "report" / "stats.json", p)
    missing = [f for f in STAGE_FILES if not (d / f).exists()]
    if missing:
        p.append("missing stage files: " + ", ".join(missing) + " (the build has not reached them, or was stopped)")
    for line_no, _, o in iter_rows(d / "samples.jsonl", p, skip_fields=HEAVY_SAMPLE_FIELDS):
        rd.n_samples += 1
        if max_rows is None or len(rd.samples) < max_rows:
            o["_line"] = line_no
            rd.samples.append(o)
    for line_no, _, o in iter_rows(d / "rejected.jsonl", p):
        rd.n_rejected += 1
        if max_rows is None or len(rd.rejected) < max_rows:
            o["_line"] = line_no
            rd.rejected.append(o)
    wanted: set[str] | None = None
    if max_rows is not None:  # the ids the kept rows refer to (a rejection's item is a chain or a question)
        wanted = {str(s.get("question_id")) for s in rd.samples} | {str(s.get("chain_id")) for s in rd.samples}
        wanted |= {str(r.get("item_id")) for r in rd.rejected}
    for _, _, o in iter_rows(d / "questions.jsonl", p):
        if "question_id" in o and (wanted is None or str(o["question_id"]) in wanted
                                   or str(o.get("chain_id")) in wanted):
            rd.questions[str(o["question_id"])] = o
            if "chain_id" in o:
                rd.questions_by_chain[str(o["chain_id"])] = str(o["question_id"])
    chain_ids = None if wanted is None else wanted | {str(q.get("chain_id")) for q in rd.questions.values()}
    for _, _, o in iter_rows(d / "chains.jsonl", p):
        if "chain_id" in o and (chain_ids is None or str(o["chain_id"]) in chain_ids):
            rd.chains[str(o["chain_id"])] = o
    for _, _, o in iter_rows(d / "trajectories.jsonl", p):
        if "question_id" in o and (wanted is None or str(o["question_id"]) in wanted
                                   or str(o["question_id"]) in rd.questions):
            rd.trajectories[str(o["question_id"])] = o
    return rd


def docstore_dir(rd: RunData) -> Path | None:
    """Where the run's documents are: ``world.docstore`` of a custom world, else the sample world's store."""
    world = rd.config.get("world") or {}
    if world.get("kind") == "custom":
        ds = world.get("docstore")
        return Path(ds) if ds else None
    if not rd.config:
        return None
    from longtracerl.corpus.sample_world import ensure_sample_world

    return Path(ensure_sample_world(progress=False).docstore_dir)
