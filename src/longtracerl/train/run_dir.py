"""The output directory of a ``train grpo`` run: its settings fingerprint, checkpoints and metrics file.

A run can be killed at any moment (``kill -9``, preemption) and started again with the same command: it
continues from the newest COMPLETE checkpoint (``trainer_state.json`` is the last file the trainer writes),
drops metric rows logged after that checkpoint, and refuses to mix runs whose settings differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "curves.png"
#: Settings that may change between a run and its resumption (they do not change the curve so far).
MUTABLE = ("max_steps", "save_every", "report_to", "save_final")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def complete_checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """``(step, dir)`` of every checkpoint that was fully written, oldest first."""
    out = []
    d = Path(output_dir)
    if not d.is_dir():
        return []
    for p in d.iterdir():
        m = re.fullmatch(r"checkpoint-(\d+)", p.name)
        if m and p.is_dir() and (p / "trainer_state.json").is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def prepare(output_dir: str | Path, settings: dict[str, Any], resume: str) -> Path | None:
    """Check ``settings`` against the directory's ``run.json``; return the checkpoint to resume from, if any.

    ``resume``: ``auto`` (newest complete checkpoint of this directory, else start), ``never`` (start; refuse a
    directory that already has checkpoints), or a checkpoint directory.
    """
    out = Path(output_dir)
    run_file = out / RUN_FILE
    fixed = {k: v for k, v in settings.items() if k not in MUTABLE}
    if run_file.is_file():
        old = json.loads(run_file.read_text(encoding="utf-8"))
        old_fixed = {k: v for k, v in old.items() if k not in MUTABLE}
        diff = sorted(k for k in set(fixed) | set(old_fixed) if fixed.get(k) != old_fixed.get(k))
        if diff and complete_checkpoints(out):
            k = diff[0]
            raise ValueError(
                f"{run_file}: this output directory holds a run with different settings ({', '.join(diff)}; "
                f"e.g. {k}: {old_fixed.get(k)!r} there, {fixed.get(k)!r} now); use another --output-dir"
            )
    ckpts = complete_checkpoints(out)
    target: Path | None = None
    if resume == "never":
        if ckpts:
            raise ValueError(f"{out}: already has checkpoints ({ckpts[-1][1].name}); resume it or use another --output-dir")
    elif resume == "auto":
        target = ckpts[-1][1] if ckpts else None
    else:
        target = Path(resume)
        if not (target / "trainer_state.json").is_file():
            raise ValueError(f"--resume {resume}: not a complete checkpoint directory (no trainer_state.json)")
        other = target.parent / RUN_FILE
        if other.is_file() and other.resolve() != run_file.resolve():
            theirs = {k: v for k, v in json.loads(other.read_text(encoding="utf-8")).items() if k not in MUTABLE}
            diff = sorted(k for k in set(fixed) | set(theirs) if fixed.get(k) != theirs.get(k))
            if diff:
                raise ValueError(f"--resume {resume}: checkpoint of a run with different settings ({', '.join(diff)})")
    out.mkdir(parents=True, exist_ok=True)
    tmp = run_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(settings, indent=1, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, run_file)
    return target


def checkpoint_step(checkpoint: Path | None) -> int:
    if checkpoint is None:
        return 0
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state.get("global_step", 0))


def truncate_metrics(path: str | Path, step: int) -> int:
    """Keep only metric rows of steps ``<= step`` (rows a killed run logged after its last checkpoint go)."""
    p = Path(path)
    if not p.is_file():
        return 0
    kept = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by the kill
            continue
        if int(row.get("step", 0)) <= step:
            kept.append(line)
    tmp = p.with_suffix(".tmp")
    tmp.write_text("".join(x + "\n" for x in kept), encoding="utf-8")
    os.replace(tmp, p)
    return len(kept)


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        return []
    rows = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
