"""``longtracerl assemble --from runs/X --max-tokens N ...``: one build, many context lengths.

The LLM stages of a build (walks, questions, the agent) cost about everything; assembly to a context length
L is cheap. This reuses the chains, questions and trajectories of a finished (or partly finished) build and
runs only assembly, export and the report for each L, into ``runs/X-16k``, ``runs/X-32k``, ... (or the name
given). Nothing is asked of an LLM, and no search the trajectories already hold is repeated: the distractor
tiers come from the trajectories as they are (only ``one_shot_search``, whose single search is not part of a
trajectory, searches).

The target directory gets a snapshot of the source's upstream files (complete lines only, so a source still
being built is read safely) and of their rejections and manifest entries (their cost stays in the report);
the manifest's ``source`` says which build, and the report's settings table shows it. The target then is an
ordinary run directory at the downstream stages: it resumes like a build (rerun the same command), and its
``samples.jsonl`` is byte-identical to a fresh build's with that L on the same upstream files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from longtracerl.config import BuildConfig
from longtracerl.pipeline.build import run_stages
from longtracerl.pipeline.context import RunContext

UPSTREAM_FILES = ["chains.jsonl", "questions.jsonl", "trajectories.jsonl"]
UPSTREAM_STAGES = ["walk", "questions", "agent"]
DOWNSTREAM_STAGES = ["assembly", "export", "report"]


class AssembleError(ValueError):
    """The source is not a build this command can reuse, or the target belongs to another source."""


def length_name(max_tokens: int) -> str:
    """``16k`` for 16384, ``128k`` for 131072; lengths that are not a multiple of 1024 keep their digits."""
    return f"{max_tokens // 1024}k" if max_tokens % 1024 == 0 else str(max_tokens)


def target_names(source: Path, lengths: Sequence[int], name: str | None) -> list[str]:
    """Run names per L: ``<source>-16k`` ...; with ``name``, that name alone for one L, ``<name>-16k`` for several."""
    if name and len(lengths) == 1:
        return [name]
    base = name or source.name
    return [f"{base}-{length_name(n)}" for n in lengths]


def source_config(source: Path) -> dict[str, Any]:
    """The source build's resolved config (its ``config.yaml``, minus the package versions written beside it)."""
    import yaml

    p = source / "config.yaml"
    if not p.exists():
        raise AssembleError(f"{source} is not a build run directory (no config.yaml); build it first with "
                            "`longtracerl build --name ...`")
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict):
        raise AssembleError(f"{p}: expected a mapping at the top level")
    missing = [f for f in UPSTREAM_FILES if not (source / f).exists()]
    if missing:
        raise AssembleError(f"{source} has no {', '.join(missing)} yet: assemble needs a build that reached "
                            "its agent stage (rerun the build to let it get there)")
    return {k: v for k, v in data.items() if k in BuildConfig.model_fields}


def derived_config(source: Path, *, max_tokens: int, name: str, out: str | None = None,
                   tokenizer: str | None = None, overrides: Sequence[str] = ()) -> BuildConfig:
    """The source's config with another L (and tokenizer), name and parent directory; ``overrides`` are
    ``--set key=value`` for the downstream sections only (assembly, distractors, export)."""
    import yaml

    from longtracerl.config import set_dotted

    data = source_config(source)
    data["name"] = name
    data["out"] = out if out is not None else str(source.parent)
    set_dotted(data, "assembly.max_tokens", max_tokens)
    if tokenizer is not None:
        set_dotted(data, "assembly.tokenizer", tokenizer)
    for item in overrides:
        if "=" not in item:
            raise AssembleError(f"--set {item!r}: expected key.path=value")
        k, v = (x.strip() for x in item.split("=", 1))
        if k.split(".")[0] not in ("assembly", "distractors", "export", "executor"):
            raise AssembleError(f"--set {k}: assemble reuses the source's upstream stages; only assembly.*, "
                                "distractors.*, export.* and executor.* can change")
        set_dotted(data, k, yaml.safe_load(v))
    return BuildConfig.model_validate(data)


def _copy_complete_lines(src: Path, dst: Path) -> int:
    """Copy ``src`` up to its last newline (a build still appending may have a torn last line)."""
    n = 0
    tmp = dst.with_name(dst.name + ".tmp")
    with src.open("rb") as f, tmp.open("wb") as out:
        tail = b""
        for chunk in iter(lambda: f.read(1 << 20), b""):
            buf = tail + chunk
            cut = buf.rfind(b"\n") + 1
            out.write(buf[:cut])
            n += buf.count(b"\n", 0, cut)
            tail = buf[cut:]
    os.replace(tmp, dst)
    return n


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def snapshot_upstream(source: Path, ctx: RunContext) -> dict[str, Any]:
    """Copy the source's upstream files, their rejections and manifest entries into the target, once.

    A rerun finds the snapshot (the manifest's ``source``) and keeps it, so a resumed assemble works on
    the files it started with; a target made from another build is refused."""
    from longtracerl.io import iter_jsonl, write_records

    m = ctx.manifest()
    have = m.get("source")
    if have is not None:
        if Path(have["dir"]).resolve() != source.resolve():
            raise AssembleError(f"{ctx.dir} was assembled from {have['dir']}, not {source}; choose another --name")
        return dict(have)
    if m.get("stages") or (ctx.dir / "samples.jsonl").exists():  # (files without a manifest: a torn snapshot)
        raise AssembleError(f"{ctx.dir} already holds a build that was not assembled from {source}; "
                            "choose another --name")
    counts = {f: _copy_complete_lines(source / f, ctx.dir / f) for f in UPSTREAM_FILES}
    rej = source / "rejected.jsonl"
    rows = [o for _, o in iter_jsonl(rej) if o.get("stage") in UPSTREAM_STAGES] if rej.exists() else []
    write_records(ctx.rejected, rows)
    src_manifest = RunContext.read_manifest(source)
    done = {s: bool(src_manifest.get("stages", {}).get(s, {}).get("done")) for s in UPSTREAM_STAGES}
    info = {"dir": str(source), "name": source.name, "upstream_done": done, "records": counts,
            "sha256": {f: _digest(ctx.dir / f) for f in UPSTREAM_FILES}}
    m = ctx.manifest()
    m["source"] = info
    for s in UPSTREAM_STAGES:  # the source's entries (their LLM usage is the cost of these samples)
        entry = src_manifest.get("stages", {}).get(s, {"runs": []})
        m.setdefault("stages", {})[s] = {"done": True, "runs": entry.get("runs", []), "from_source": True,
                                         "done_in_source": done[s]}
    ctx.write_manifest(m)
    return info


def share_resources(prev: RunContext, ctx: RunContext) -> None:
    """The world, tokenizer and per-document token counts of the previous length, for the next one."""
    for k in ("world_dirs", "docstore", "search", "graph"):
        if k in prev.__dict__:
            ctx.__dict__[k] = prev.__dict__[k]
    if prev.cfg.assembly.tokenizer == ctx.cfg.assembly.tokenizer and "tokenizer" in prev.__dict__:
        ctx.__dict__["tokenizer"] = prev.__dict__["tokenizer"]
        old = prev.__dict__.get("_assembler")
        if old is not None:
            from longtracerl.synth.assembly import Assembler

            asm = ctx.assembler(Assembler)
            asm.token_cache, asm.missing = old.token_cache, old.missing  # counts depend on the tokenizer only


def assemble_from(source: Path | str, lengths: Sequence[int], *, name: str | None = None, out: str | None = None,
                  tokenizer: str | None = None, overrides: Sequence[str] = (), progress: bool = True,
                  log: Callable[[str], Any] | None = None) -> list[RunContext]:
    """Assembly, export and report of ``source``'s upstream files at each L; returns one context per L."""
    from longtracerl.presets import check_build_requirements

    src = Path(source)
    if not lengths:
        raise AssembleError("give at least one --max-tokens")
    if len(set(lengths)) != len(lengths):
        raise AssembleError(f"--max-tokens repeated: {list(lengths)}")
    names = target_names(src, lengths, name)
    cfgs = [derived_config(src, max_tokens=n, name=nm, out=out, tokenizer=tokenizer, overrides=overrides)
            for n, nm in zip(lengths, names, strict=True)]
    for cfg in cfgs:
        if cfg.run_dir.resolve() == src.resolve():
            raise AssembleError(f"the target {cfg.run_dir} is the source itself; choose another --name")
        check_build_requirements(cfg)
    done: list[RunContext] = []
    for cfg in cfgs:
        ctx = RunContext(cfg, progress=progress)
        ctx.check_config()
        snapshot_upstream(src, ctx)
        if done:
            share_resources(done[-1], ctx)
        if log is not None:
            log(f"[bold]{ctx.dir}[/]: L = {cfg.assembly.max_tokens:,} from {src}")
        run_stages(ctx, stages=DOWNSTREAM_STAGES, log=log)
        done.append(ctx)
    return done
