"""The run directory of ``longtracerl build``: paths, lazily opened resources, and the stage manifest."""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from longtracerl.config import BuildConfig


class ConfigMismatch(ValueError):
    """A rerun with another config than the one the run directory was started with."""


class RunContext:
    """What every stage needs: the config, the run directory's files, and shared resources (opened once)."""

    def __init__(self, cfg: BuildConfig, *, progress: bool = True) -> None:
        self.cfg = cfg
        self.dir = cfg.run_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        from longtracerl.llm.usage import UsageMeter

        self.meter = UsageMeter()
        self.cache_dir = self.dir / "cache"  # LLM and judge caches (a Ray worker points it at node-local disk)
        self.llm_cap: int | None = None  # per-endpoint requests in flight, when a Ray task gets a share of the cap
        # token counts shared by the worker processes of one node (a Ray worker sets it to node-local disk)
        self.token_counts_dir: Path | None = None
        self._pools: list[Any] = []

    # ------------------------------------------------------------------ files
    def path(self, name: str) -> Path:
        return self.dir / name

    @property
    def chains(self) -> Path:
        return self.dir / "chains.jsonl"

    @property
    def questions(self) -> Path:
        return self.dir / "questions.jsonl"

    @property
    def rejected(self) -> Path:
        return self.dir / "rejected.jsonl"

    @property
    def trajectories(self) -> Path:
        return self.dir / "trajectories.jsonl"

    @property
    def samples(self) -> Path:
        return self.dir / "samples.jsonl"

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.json"

    # ------------------------------------------------------------------ manifest
    def manifest(self) -> dict[str, Any]:
        return self.read_manifest(self.dir)

    @staticmethod
    def read_manifest(run_dir: Path) -> dict[str, Any]:
        """``manifest.json`` of a run directory (``{"stages": {}}`` before its first stage finished)."""
        p = run_dir / "manifest.json"
        if not p.exists():
            return {"stages": {}}
        return json.loads(p.read_text())  # type: ignore[no-any-return]

    def is_done(self, stage: str) -> bool:
        return bool(self.manifest().get("stages", {}).get(stage, {}).get("done"))

    def mark_done(self, stage: str, info: dict[str, Any]) -> None:
        m = self.manifest()
        prev = m.setdefault("stages", {}).get(stage, {})
        runs = prev.get("runs", []) + [info]
        m["stages"][stage] = {"done": True, "runs": runs}
        self.write_manifest(m)

    def note_partial(self, stage: str, info: dict[str, Any]) -> None:
        """Stats of an invocation that did part of a stage (kept for the report's cost totals)."""
        m = self.manifest()
        st = m.setdefault("stages", {}).setdefault(stage, {"done": False, "runs": []})
        st.setdefault("runs", []).append(info)
        self.write_manifest(m)

    def write_manifest(self, m: dict[str, Any]) -> None:
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(m, indent=2, sort_keys=True))
        os.replace(tmp, self.manifest_path)

    # ------------------------------------------------------------------ config
    def check_config(self) -> None:
        """Write ``config.yaml`` on the first run; refuse to resume a run directory with another config."""
        import yaml

        from longtracerl import __version__

        want = self.cfg.model_dump(mode="json")
        p = self.dir / "config.yaml"
        if p.exists():
            have = yaml.safe_load(p.read_text()) or {}
            have = {k: v for k, v in have.items() if k in want}
            try:  # settings added since that run was started compare as their defaults
                have = type(self.cfg).model_validate(have).model_dump(mode="json")
            except ValueError:
                pass
            ignore = {"executor", "ray_shards"}  # how it runs, not what it makes
            diff = sorted(k for k in want if k not in ignore and _what(k, have.get(k)) != _what(k, want[k]))
            if diff:
                raise ConfigMismatch(
                    f"{p} was written by a build with another config (differs in: {', '.join(diff)}); "
                    "rerun with the same settings to resume, or choose another --name")
            return
        versions = {"longtracerl": __version__}
        for mod in ("transformers", "tantivy", "pydantic"):
            try:
                versions[mod] = __import__(mod).__version__
            except Exception:  # pragma: no cover - optional
                pass
        tmp = p.with_suffix(".yaml.tmp")
        tmp.write_text(self.cfg.to_yaml(versions=versions))
        os.replace(tmp, p)

    # ------------------------------------------------------------------ resources
    @cached_property
    def world_dirs(self) -> tuple[Path, Path, Path | None]:
        """(docstore, index, graph or None = the sample world's graph)."""
        w = self.cfg.world
        if w.kind == "sample":
            from longtracerl.corpus.sample_world import ensure_sample_world

            sw = ensure_sample_world(progress=self.progress)
            index = Path(str(w.index)) if w.index is not None else Path(sw.index_dir)
            return Path(sw.docstore_dir), index, None
        missing = [k for k in ("docstore", "index", "graph") if getattr(w, k) is None]
        if missing:
            raise ValueError(f"world.kind=custom needs world.{', world.'.join(missing)} (directories)")
        return Path(str(w.docstore)), Path(str(w.index)), Path(str(w.graph))

    @cached_property
    def docstore(self) -> Any:
        from longtracerl.corpus.docstore import DocStore

        return DocStore.open(self.world_dirs[0])

    @cached_property
    def search(self) -> Any:
        """The backend the index was built as (BM25, dense or hybrid; see ``corpus.indexes.open_search``), or one
        ``serve-search`` for the whole cluster (``world.search_url``)."""
        w = self.cfg.world
        if w.search_url:
            from longtracerl.corpus.remote import RemoteSearch

            return RemoteSearch(w.search_url, w.search_token)
        from longtracerl.corpus.indexes import open_search

        return open_search(self.world_dirs[1], self.docstore, embed_url=w.embed_url, dense_weight=w.dense_weight)

    def world_access(self) -> dict[str, str]:
        """How workers reach the world (for the report): paths every node must read, or the search server."""
        w = self.cfg.world
        d = self.world_dirs
        out = {"docstore": f"path {d[0]}", "graph": f"path {d[2]}" if d[2] is not None else "sample graph (built per node)"}
        out["search"] = f"serve-search at {w.search_url}" if w.search_url else f"path {d[1]}"
        if w.kind == "sample":
            out["docstore"] = "sample world (built per node)"
            if not w.search_url:
                out["search"] = "sample world (built per node)"
        return out

    @cached_property
    def graph(self) -> Any:
        from longtracerl.graph.store import Graph

        g = self.world_dirs[2]
        if g is None:
            from longtracerl.graph.sample import ensure_sample_graph

            g = ensure_sample_graph()
        return Graph.load(g)

    @cached_property
    def tokenizer(self) -> Any:
        from longtracerl.llm.tokenizers import load_tokenizer

        return load_tokenizer(self.cfg.assembly.tokenizer)

    def assembler(self, factory: Any) -> Any:
        """One assembler per context, so a Ray worker's batches share its per-document token counts."""
        asm = self.__dict__.get("_assembler")
        if asm is None or len(asm.token_cache) > 2_000_000:  # bounded: a worker may see millions of pages
            shared = self.token_store()
            kw: dict[str, Any] = {} if shared is None else {"shared": shared}
            asm = self.__dict__["_assembler"] = factory(self.docstore, self.tokenizer, self.cfg.assembly, **kw)
        return asm

    def token_store(self) -> Any:
        """The node's shared token counts (``synth.token_store``), or None outside a Ray worker."""
        if self.token_counts_dir is None:
            return None
        store = self.__dict__.get("_token_store")
        if store is None:
            from longtracerl.llm.tokenizers import tokenizer_name
            from longtracerl.synth.token_store import TokenCountStore

            store = self.__dict__["_token_store"] = TokenCountStore.for_tokenizer(
                self.token_counts_dir, tokenizer_name(self.tokenizer))
        return store

    def llm(self, stage: str) -> Any:
        """The configured LLM for one role (None when the build is LLM-free); answers cached in the run."""
        s = self.cfg.llm
        if s.kind == "none":
            return None
        from longtracerl.llm import make_llm

        kw: dict[str, Any] = {}
        if s.kind == "openai":
            kw["max_concurrency"] = self.llm_cap or s.max_concurrency
            if isinstance(s.base_url, list):
                kw["cooldown"] = s.endpoint_cooldown
        llm = make_llm(s.kind, base_url=s.base_url, model=s.model, api_key=s.api_key,
                       cache_dir=self.cache_dir / "llm", meter=self.meter, stage=stage, **kw)
        if hasattr(llm, "stats"):
            self._pools.append(llm)
        return llm

    def pop_endpoint_stats(self) -> dict[str, dict[str, Any]]:
        """Per-endpoint counts of the LLM pools opened since the last call (for the manifest and report)."""
        from longtracerl.llm.pool import merge_endpoint_stats

        out: dict[str, dict[str, Any]] = {}
        for p in self._pools:
            merge_endpoint_stats(out, p.stats())
        self._pools = []
        return out


# settings of a section that say how to reach a service, not what is made: a resume may change them
_HOW = {"llm": {"base_url", "api_key", "max_concurrency", "endpoint_cooldown"}, "world": {"search_url", "search_token"}}


def _what(section: str, value: Any) -> Any:
    if isinstance(value, dict) and section in _HOW:
        return {k: v for k, v in value.items() if k not in _HOW[section]}
    return value
