"""``BuildConfig``: every knob of ``longtracerl build``, loadable from YAML and overridable from the CLI.

Overrides use dotted paths (``--set assembly.max_tokens=32768``); values are parsed as YAML scalars.
The resolved config (with package versions) is written to ``runs/<name>/config.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorldConfig(_Strict):
    """The corpus: the bundled sample world (default) or your own DocStore + index + graph."""

    kind: Literal["sample", "custom"] = "sample"
    docstore: str | None = None
    index: str | None = Field(None, description="search index directory (BM25, dense or hybrid, as built by "
                              "`longtracerl index --backend`); with kind=sample it replaces the sample world's index")
    graph: str | None = None
    search_url: str | None = Field(None, description="a running `longtracerl serve-search` used as the search "
                                   "backend of every worker (instead of reading the index from a path)")
    search_token: str | None = Field(None, description="bearer token of that search server")
    embed_url: str | None = Field(None, description="embedding endpoint replacing the one a dense/hybrid index "
                                  "recorded (same model); the API key comes from LONGTRACERL_EMBED_API_KEY")
    dense_weight: float | None = Field(None, ge=0, description="hybrid index: weight of the dense rank in the "
                                       "fusion (default: the one recorded at index time)")


class WalkSettings(_Strict):
    n_chains: int = Field(40, ge=0, description="walks attempted")
    hops: int = Field(4, ge=1, description="moves per walk (a chain has hops+1 entities)")
    min_hops: int | None = Field(None, description="moves a kept walk must make (default: hops)")
    max_candidates: int = 5
    jump_prob: float = 0.1
    chooser: Literal["uniform", "degree", "llm"] = "uniform"  # llm: the configured LLM picks each hop
    concurrency: int = Field(16, ge=1, description="walks in flight at once with the LLM chooser (each waits on the "
                             "LLM; the chains do not depend on it)")
    rewalk_rounds: int = Field(3, ge=0, description="walks that repeat earlier ones (same path or last "
                               "questions.same_tail_hops entities, an answer or middle page past questions."
                               "max_per_answer / max_per_hub) are walked again off those pages, in up to N rounds "
                               "over the whole walk file; 0: no re-walks (repeated paths and tails are still rejected)")


class LLMSettings(_Strict):
    """The LLM of every role; ``none`` keeps the whole build LLM-free. Several base URLs make a pool."""

    kind: Literal["none", "local", "openai"] = "none"
    base_url: str | list[str] | None = Field(
        None, description="OpenAI-compatible endpoint, or a list of them: a pool with least-outstanding routing")
    model: str | None = None
    api_key: str | None = None
    max_concurrency: int = Field(8, ge=1, description="requests in flight per endpoint (with Ray: over the whole "
                                 "cluster, shared out among the tasks in flight)")
    endpoint_cooldown: float = Field(5.0, gt=0, description="seconds a failing pool endpoint is left out before "
                                     "it is tried again (doubles while it keeps failing, up to 60 s)")


class QuestionSettings(_Strict):
    writer: Literal["auto", "template", "llm"] = "auto"  # auto: llm when an LLM is configured
    attempts: int = 3
    concurrency: int = 8
    jump_mode: Literal["restart", "cut"] = Field(
        "restart", description="a jumped hop: restart from an entity described uniquely in the corpus, or cut the "
        "chain to its longest jump-free part")
    hop_margin: float = Field(0.35, ge=0.0, le=1.0, description="hop_ambiguous: min clue fit margin of a hop's "
                              "target over the other neighbours of the previous entity")
    shortcut: Literal["reject", "keep"] = Field(
        "reject", description="question or last clue alone finds the answer's page at rank 1: reject, or keep and count")
    min_on_chain: float = Field(0.5, ge=0.0, le=1.0, description="off_chain: share of hops whose clue or relation "
                                "words must appear in the question")
    same_tail_hops: int = Field(4, ge=0, description="repeated_tail: drop a chain whose last N entities equal an "
                                "earlier chain's (walks converging on a hub give near-duplicate questions); 0: keep")
    max_per_answer: int = Field(2, ge=0, description="answer_repeated: at most N kept questions per answer entity "
                                "(the first in chain order); 0: no limit")
    max_per_hub: int = Field(3, ge=0, description="hub_repeated: at most N kept questions pass through one middle "
                             "page (walks converge on hubs, and a hub met again is pinned by the same clue); 0: keep")
    reader_margin: float = Field(0.1, ge=0.0, le=1.0, description="reader_not_first: the engine's BM25 must rank a "
                                 "hop's target first among the previous entity's neighbours, ahead by this share")


class AgentSettings(_Strict):
    # auto: llm when an LLM is configured, else the non-oracle solver; chain_guided knows the chain (an oracle)
    kind: Literal["auto", "solver", "chain_guided", "llm"] = "auto"
    protocol: Literal["tools", "text"] = "text"
    attempts: int = Field(5, ge=1, description="K attempts per question (PAPER.md 2b)")
    max_turns: int = 12
    max_tokens: int = Field(512, ge=16, description="completion tokens of one agent turn; a reasoning model's "
                            "thinking counts, so give it thousands (the paper preset: 4096)")
    max_open: int = 8
    obs_max_tokens: int = 1000
    k: int = 5
    concurrency: int = 8
    solver_k: int = Field(20, ge=1, description="results per search of the LLM-free solver (kind=solver)")


class OutcomeSettings(_Strict):
    """How the build decides that an agent attempt solved its question (the solve filter, PAPER.md 2b)."""

    scorer: Literal["contains", "em", "f1", "judge"] = "contains"
    judge_prompt: Literal["hle", "aa_lcr"] = Field("hle", description="built-in judge prompt (our wording)")
    judge_prompt_file: str | None = Field(None, description="judge template file with {question} {response} "
                                                            "{correct_answer}; overrides judge_prompt")
    judge_tries: int = Field(3, ge=1, description="judge calls per answer before the explicit error state")
    judge_max_tokens: int = Field(512, ge=16, description="completion tokens of one judge call; a reasoning "
                                  "judge's thinking counts (the paper preset: 2048)")


class DistractorSettings(_Strict):
    strategy: Literal["trajectory_tiered", "trajectory_random", "one_shot_search", "random"] = "trajectory_tiered"
    remove_answer_docs: bool = True
    one_shot_n: int = 100
    compare_all: bool = Field(True, description="report the gold-entity mention share of every strategy")


#: the instruction opening each prompt, one drawn per sample (seeded)
INSTRUCTIONS = [
    "Answer only using the provided documents.",
    "Use only the documents below to answer the question.",
    "Read the documents below and answer the question using only the information they contain.",
    "Base your answer solely on the provided documents.",
    "The answer can be found by combining information from the documents below; rely on nothing else.",
]


class AssemblyConfig(_Strict):
    """Knobs of the assembly (``longtracerl.synth.assembly``); defaults follow PAPER.md 2d (L about 128K).

    Here with the other build configs so that the base layer does not import synthesis."""

    max_tokens: int = Field(131072, ge=256, description="L: the prompt, chat template included, never exceeds "
                                                          "this many tokens of the training tokenizer")
    fill: Literal["random", "none"] = Field("random", description="pad with random documents when the tiers run short")
    fill_docs: int = Field(200, ge=0, description="random candidates drawn for padding")
    instructions: list[str] = Field(default_factory=lambda: list(INSTRUCTIONS))
    tokenizer: str | None = Field(None, description="HF tokenizer directory or Hub id (the trained model's); "
                                                      "None = the bundled model's")
    batch: int = Field(16, ge=1, description="documents tokenized per batch call")
    max_misses: int = Field(16, ge=1, description="stop after this many consecutive documents that do not fit")


ExportFormat = Literal["slime", "verl", "hf"]


class ExportSettings(_Strict):
    formats: list[ExportFormat] = Field(default_factory=lambda: list[ExportFormat](["slime", "verl", "hf"]))
    test_fraction: float = Field(0.0, ge=0.0, lt=1.0, description=(
        "share of chains held out for evaluation (export/slime_test.jsonl, verl/test.parquet, hf_test); a chain "
        "and its questions are never on both sides"))


class RaySettings(_Strict):
    """How ``executor.kind=ray`` reaches its cluster and cuts stages into tasks."""

    address: str | None = Field(None, description="existing cluster: 'auto', 'HOST:6379' or 'ray://HOST:10001' "
                                "(default: $RAY_ADDRESS, else a local Ray sized to this machine)")
    connect_timeout: float = Field(5.0, gt=0, description="seconds to reach the cluster before giving up")
    batch_size: int = Field(32, ge=1, description="items per task (smaller when a stage has few items)")
    max_in_flight: int | None = Field(None, ge=1, description="tasks submitted at once (default: 2 x cluster CPUs); "
                                      "bounds driver memory and the object store")
    num_cpus: float = Field(1.0, gt=0, description="CPUs reserved per task")
    local_cpus: int | None = Field(None, ge=1, description="size of the local Ray started without an address "
                                   "(default: every CPU of this machine)")
    ship_code: bool = Field(True, description="upload this longtracerl package to the workers (runtime_env "
                            "py_modules); off when the nodes have the same version installed")
    runtime_env: dict[str, Any] = Field(default_factory=dict, description="extra Ray runtime_env (pip, env_vars, ...)")
    max_retries: int = Field(3, ge=0, description="reruns of a task whose worker died")
    output_url: str | None = Field(None, description="where tasks put their results instead of the object store: "
                                   "a path or fsspec URL every node and the driver can reach (s3://bucket/prefix, "
                                   "gs://..., file:///shared/dir); the driver reads each one back and deletes it")


class ExecutorSettings(_Strict):
    """Where per-item work runs: in this process (default) or as Ray tasks (same output, byte for byte)."""

    kind: Literal["local", "ray"] = "local"
    ray: RaySettings = Field(default_factory=RaySettings)


class BuildConfig(_Strict):
    """Everything ``longtracerl build`` does; the defaults run offline on the bundled sample world."""

    preset: Literal["default", "paper"] = Field(
        "default", description="values laid under the config (longtracerl.presets); YAML keys, flags and --set win")
    name: str = "default"
    out: str = "runs"
    seed: int = 0
    executor: ExecutorSettings = Field(default_factory=ExecutorSettings)
    ray_shards: int = Field(2, ge=1, description="fewest tasks a Ray stage is cut into (when items are few)")
    world: WorldConfig = Field(default_factory=WorldConfig)
    walk: WalkSettings = Field(default_factory=WalkSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    questions: QuestionSettings = Field(default_factory=QuestionSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    outcome: OutcomeSettings = Field(default_factory=OutcomeSettings)
    distractors: DistractorSettings = Field(default_factory=DistractorSettings)
    assembly: AssemblyConfig = Field(default_factory=AssemblyConfig)
    export: ExportSettings = Field(default_factory=ExportSettings)

    @model_validator(mode="before")
    @classmethod
    def _preset_and_shorthands(cls, data: Any) -> Any:
        """Lay the preset (``preset: paper``) under the given keys; ``executor: ray`` means ``{kind: ray}``."""
        from longtracerl.presets import apply_preset

        data = apply_preset("build", data)
        if isinstance(data, dict) and isinstance(data.get("executor"), str):
            data = {**data, "executor": {"kind": data["executor"]}}
        return data

    @property
    def run_dir(self) -> Path:
        return Path(self.out) / self.name

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: list[str] | None = None,
             extra: dict[str, Any] | None = None) -> BuildConfig:
        """YAML file, then ``extra`` (flag values, dotted keys), then ``--set`` overrides (last wins)."""
        data: dict[str, Any] = {}
        if path is not None:
            p = Path(path)
            loaded = yaml.safe_load(p.read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{p}: expected a mapping at the top level, got {type(loaded).__name__}")
            data = loaded
        if isinstance(data.get("executor"), str):  # so that executor.kind / executor.ray.* can be set below
            data["executor"] = {"kind": data["executor"]}
        for k, v in (extra or {}).items():
            if v is not None:
                set_dotted(data, k, v)
        for item in overrides or []:
            if "=" not in item:
                raise ValueError(f"--set {item!r}: expected key.path=value")
            k, v = item.split("=", 1)
            set_dotted(data, k.strip(), yaml.safe_load(v))
        return cls.model_validate(data)

    def to_yaml(self, **extra: Any) -> str:
        d = self.model_dump(mode="json")
        d.update(extra)
        return yaml.safe_dump(d, sort_keys=False)


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    cur = data
    for p in parts[:-1]:
        nxt = cur.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ValueError(f"cannot set {key!r}: {p!r} is not a mapping")
        cur = nxt
    cur[parts[-1]] = value
