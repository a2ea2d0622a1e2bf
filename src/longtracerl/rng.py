"""Seeds derived from names, the same in every process, on every machine and at every rerun.

Randomness is keyed by what it is for (the run seed, an item id, a purpose), never by processing order or by
Python's salted ``hash()``: a resumed or distributed build draws exactly what a single pass draws, so its
output is byte-identical. Every seeded draw of the package goes through ``derived_seed``/``seeded_rng``.
"""

from __future__ import annotations

import hashlib
import random


def derived_seed(*parts: object, sep: str = ":", nbytes: int = 8) -> int:
    """The first ``nbytes`` of sha256 over ``str(part)`` joined by ``sep``, as a big-endian integer."""
    digest = hashlib.sha256(sep.join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:nbytes], "big")


def seeded_rng(*parts: object) -> random.Random:
    """A ``random.Random`` of its own for one purpose, e.g. ``seeded_rng(seed, question_id, "shuffle")``."""
    return random.Random(derived_seed(*parts))
