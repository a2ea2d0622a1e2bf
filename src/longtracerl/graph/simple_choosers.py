"""The built-in walk choosers. Both also carry a ``fast_kind`` so ``walk()`` can run them vectorised.

Through the ``WalkChooser`` protocol they behave exactly as documented (used by the per-walk path,
e.g. when wrapped); ``walk()`` recognises ``fast_kind`` and runs thousands of walks in lockstep with
numpy instead, drawing from a counter-based random stream (same distribution, other numbers).
"""

from __future__ import annotations

import random

from longtracerl.graph.chooser import Candidate
from longtracerl.records import Hop


class UniformChooser:
    """Every offered candidate equally likely."""

    name = "uniform"
    fast_kind = "uniform"

    def choose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        return rng.randrange(len(candidates))


class DegreeWeightedChooser:
    """Candidates weighted by their (out-)degree: walks favour hubs and rarely end in dead ends."""

    name = "degree"
    fast_kind = "degree"

    def choose(self, path: list[Hop], candidates: list[Candidate], rng: random.Random) -> int:
        weights = [max(c.degree, 0) for c in candidates]
        if sum(weights) == 0:
            return rng.randrange(len(candidates))
        return rng.choices(range(len(candidates)), weights=weights, k=1)[0]


CHOOSERS: dict[str, type[UniformChooser] | type[DegreeWeightedChooser]] = {
    "uniform": UniformChooser,
    "degree": DegreeWeightedChooser,
}
