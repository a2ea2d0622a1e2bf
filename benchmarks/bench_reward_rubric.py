"""Rubric matching throughput vs the released algorithm (issue 2).

32K-token responses (about 24K English words), 5 and 50 gold entities, half of them present.
Prints responses/s for: the released algorithm (re-implemented plainly: regex normalization of the
response once, then one normalized substring test per entity), our ``reference`` mode (same decisions),
and our default ``word`` mode. Targets: word >= 1x released with 5 entities and >= 3x with 50;
reference >= 1x.

    .venv/bin/python benchmarks/bench_reward_rubric.py [--responses 40]
"""

from __future__ import annotations

import argparse
import random
import re
import time

from longtracerl.reward import rubric_score

_REL = re.compile(r"[a-zA-Z0-9_]+|[\u4e00-\u9fff]")


def released(text: str, entities: list[str]) -> float:
    norm = " ".join(_REL.findall(text.lower()))
    return sum(" ".join(_REL.findall(e.lower())) in norm for e in entities) / len(entities)


def make_response(rng: random.Random, words: list[str], n_words: int, entities: list[str]) -> str:
    out = [rng.choice(words) for _ in range(n_words)]
    for e in entities[::2]:  # half of the entities appear
        out.insert(rng.randrange(len(out)), e)
    text = " ".join(out)
    return f"<think>{text[: len(text) // 2]}</think>{text[len(text) // 2:]}"


def rate(fn, responses: list[str], entities: list[str], repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        for r in responses:
            fn(r, entities)
        best = min(best, time.perf_counter() - t)
    return len(responses) / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--responses", type=int, default=40)
    ap.add_argument("--words", type=int, default=24000, help="about 32K tokens")
    args = ap.parse_args()
    rng = random.Random(0)
    vocab = [w.strip(".,;") for w in (
        "the of and to in a is was for on as by with he that at from his it an were are which this be "
        "or has had first new one their its after who also been they but two her not other when year city "
        "river born film album war school team state university party art capital country music league"
    ).split()] + [f"{rng.choice('bcdfglmnprst')}{rng.choice('aeiou')}{rng.choice('nrstl')}{i}" for i in range(3000)]
    print(f"{'entities':>8} {'mode':<22} {'responses/s':>12} {'vs released':>12}  target")
    for n_ent in (5, 50):
        entities = [f"{rng.choice(['Saint', 'Lake', 'Mount', 'Duke'])} {rng.choice(vocab).title()} {i}" for i in range(n_ent)]
        responses = [make_response(rng, vocab, args.words, entities) for _ in range(args.responses)]
        # the released training matches the final answer after </think>: give every variant the same text
        finals = [r.split("</think>")[-1] for r in responses]
        base = rate(released, finals, entities)
        ref = rate(lambda t, e: rubric_score(t, e, mode="reference"), responses, entities)
        word = rate(lambda t, e: rubric_score(t, e, mode="word"), responses, entities)
        for name, v, target in (("released (baseline)", base, ""), ("ours: reference", ref, ">= 1x"),
                                ("ours: word (default)", word, ">= 1x" if n_ent == 5 else ">= 3x")):
            print(f"{n_ent:>8} {name:<22} {v:>12.1f} {v / base:>11.2f}x  {target}")
        # same decisions: reference mode agrees with the released algorithm on every response
        assert all(abs(rubric_score(r, entities, mode="reference").score - released(f, entities)) < 1e-12
                   for r, f in zip(responses, finals, strict=True))


if __name__ == "__main__":
    main()
