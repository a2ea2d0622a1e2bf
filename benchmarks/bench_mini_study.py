"""A small end-to-end study: short-context set from real 2WikiMultihopQA paragraphs -> GRPO on the bundled
SmolLM2-135M with (a) positive-only rubric reward and (b) outcome-only -> held-out accuracy before / after.

A toy in scale (a 135M model, a few steps on a CPU): what it shows is that the whole loop runs and what the
numbers are. Samples: 2WikiMultihopQA dev questions; gold = the supporting-fact paragraphs, Tier-1 = the
record's own distractor paragraphs, then random paragraphs of the 6,119-paragraph pool, assembled by the
project's ``Assembler`` to L tokens; rubrics = the entities of the record's evidence triples (the entities
along its reasoning chain), minus the answer. Train and held-out questions are disjoint.
Run: .venv/bin/python benchmarks/bench_mini_study.py [--steps 6] [--train 16] [--heldout 8] [--L 512]
On 2 cores, the two arms side by side (one torch thread each) take ~17 minutes with the defaults:
  ... bench_mini_study.py --threads 1 --arms rubric & ... bench_mini_study.py --threads 1 --arms outcome
The defaults are chosen so that the reward is not degenerate: with a 128-token budget most responses finish
(a 16- or 32-token budget truncates nearly all of them and every group has zero reward variance).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from longtracerl.paths import shared_data_dir
from longtracerl.records import Document, Question, Sample, WriterInfo


class _Store:
    def __init__(self) -> None:
        self.docs: dict[str, Document] = {}

    def add(self, title: str, text: str) -> str:
        self.docs.setdefault(title, Document(doc_id=title, title=title, text=text))
        return title

    def get(self, doc_id: str) -> Document | None:
        return self.docs.get(doc_id)


def build_set(data: Path, n: int, max_tokens: int, seed: int) -> list[Sample]:
    from longtracerl.llm.tokenizers import load_tokenizer
    from longtracerl.synth.assembly import Assembler, AssemblyConfig

    records = json.loads((data / "2wiki_dev_500.json").read_text())
    pool = json.loads((data / "2wiki_corpus_6119.json").read_text())
    store = _Store()
    pool_ids = [store.add(p["title"], p["text"]) for p in pool]
    rng = random.Random(seed)
    rng.shuffle(records)
    asm = Assembler(store, load_tokenizer(), AssemblyConfig(max_tokens=max_tokens, fill="random", fill_docs=50))
    out: list[Sample] = []
    for r in records:
        gold_titles = list(dict.fromkeys(t for t, _ in r["supporting_facts"]))
        paras = {t: " ".join(s) for t, s in r["context"]}
        if not all(t in paras for t in gold_titles):
            continue
        for t, text in paras.items():
            store.add(f"{r['_id']}:{t}", text)  # the record's own paragraphs, under its id (titles repeat)
            store.docs[f"{r['_id']}:{t}"] = Document(doc_id=f"{r['_id']}:{t}", title=t, text=text)  # under its record id (titles repeat)
        ents = [e for s, _, o in r.get("evidences", []) for e in (s, o)]
        rubrics = [e for e in dict.fromkeys(ents) if e and e.lower() != r["answer"].lower()]
        q = Question(question_id=r["_id"], chain_id=r["_id"], question=r["question"], answer=r["answer"],
                     gold_entities=rubrics, gold_doc_ids=[f"{r['_id']}:{t}" for t in gold_titles],
                     writer=WriterInfo(backend="2wikimultihopqa"))
        tier1 = [(f"{r['_id']}:{t}", "tier1") for t in paras if t not in gold_titles]
        s = asm.assemble(q, tier1, seed=seed, fill_ids=rng.sample(pool_ids, 50))
        if isinstance(s, Sample):
            out.append(s)
        if len(out) >= n:
            break
    return out


def _write(samples: list[Sample], path: Path) -> None:
    from longtracerl.pipeline.export import slime_row

    with path.open("w") as f:
        for s in samples:
            f.write(json.dumps(slime_row(s)) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--train", type=int, default=16)
    ap.add_argument("--heldout", type=int, default=8)
    ap.add_argument("--L", type=int, default=512, help="context tokens (512 keeps a step near 2 CPU-minutes)")
    ap.add_argument("--G", type=int, default=4)
    ap.add_argument("--prompts", type=int, default=1)
    ap.add_argument("--max-completion", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="keep train.jsonl / heldout.jsonl (and runs) here")
    ap.add_argument("--set-only", action="store_true", help="write the set to --out and stop (no training)")
    ap.add_argument("--arms", default="rubric,outcome", help="which runs: rubric, outcome or both (comma list)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    ap.add_argument("--grad-checkpointing", action="store_true",
                    help="TRL's default; off here: it costs a second forward pass. Without it an arm holds ~4.4 GB "
                         "at --G 4 and ~11 GB at --G 8 (turn it on for large groups)")
    args = ap.parse_args()
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    data = shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data (2WikiMultihopQA) is not beside this clone")

    from longtracerl.reward import RewardConfig
    from longtracerl.train.grpo_config import PaperGRPOConfig
    from longtracerl.train.run_dir import read_metrics
    from longtracerl.train.trl_grpo import train_grpo

    t0 = time.perf_counter()
    samples = build_set(data, args.train + args.heldout, args.L, args.seed)
    train, held = samples[: args.train], samples[args.train :]
    toks = [s.n_tokens for s in samples]
    print(f"set: {len(train)} train + {len(held)} held-out samples, L={args.L}, prompt tokens "
          f"mean {sum(toks) / len(toks):.0f} max {max(toks)}, mean rubrics "
          f"{sum(len(s.rubrics) for s in samples) / len(samples):.1f} ({time.perf_counter() - t0:.1f} s)")
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = args.out or Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        _write(train, d / "train.jsonl")
        _write(held, d / "heldout.jsonl")
        if args.set_only:
            print(f"wrote {d / 'train.jsonl'} and {d / 'heldout.jsonl'}")
            return
        cfg = PaperGRPOConfig(max_steps=args.steps, num_generations=args.G, prompts_per_step=args.prompts,
                              max_completion_length=args.max_completion, learning_rate=args.lr, seed=args.seed)
        arms = (("rubric (positive-only, eta 0.3)", RewardConfig(strategy="positive_only", eta=0.3)),
                ("outcome only", RewardConfig(strategy="outcome_only")))
        for name, rcfg in arms:
            if name.split()[0] not in args.arms.split(","):
                continue
            out = d / name.split()[0]
            t = time.perf_counter()
            train_grpo(d / "train.jsonl", "bundled", out, cfg, reward_config=rcfg, use_cpu=True, save=False,
                       eval_data=d / "heldout.jsonl", eval_every=0, eval_max_new_tokens=args.max_completion,
                       trainer_overrides={"gradient_checkpointing": args.grad_checkpointing})
            rows = read_metrics(out / "metrics.jsonl")
            runs[name] = (rows, time.perf_counter() - t)
    print(f"GRPO: {args.steps} steps x {args.prompts} prompts x G={args.G}, responses <= {args.max_completion} "
          f"tokens, lr {args.lr} (paper 2e-6: too small to move a 135M model in {args.steps} steps), bundled SmolLM2-135M")
    for name, (rows, secs) in runs.items():
        tr = [r for r in rows if r["kind"] == "train"]
        ev = [r for r in rows if r["kind"] == "eval"]
        print(f"[{name}] {secs:.0f} s total, {sum(r['seconds'] for r in tr) / max(len(tr), 1):.1f} s/step")
        print("  step  reward  outcome  rubric  resp_len  truncated  entropy")
        for r in tr:
            print(f"  {r['step']:>4}  {r.get('reward', 0):.3f}   {r.get('outcome', 0):.3f}    {r.get('rubric', 0):.3f}"
                  f"   {r.get('response_length', 0):6.1f}    {r.get('truncated_share', 0):.2f}     {r.get('entropy', 0):.2f}")
        if ev:
            b, a = ev[0], ev[-1]
            print(f"  held-out ({int(b['n'])} questions, greedy): accuracy {b['accuracy']:.3f} -> {a['accuracy']:.3f}, "
                  f"rubric {b['rubric']:.3f} -> {a['rubric']:.3f} (step {b['step']} -> {a['step']})")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs (shared machine)")


if __name__ == "__main__":
    main()
