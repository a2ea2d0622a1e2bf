"""Exports of assembled samples: slime JSONL in the released format, verl parquet, a Hugging Face dataset.

The slime rows have exactly the released keys (PAPER.md 2), so the released training scripts, our reward
server and ``longtracerl.train`` read them unchanged. The verl parquet follows verl's RL dataset columns
(``data_source``, ``prompt`` as a chat list, ``ability``, ``reward_model``, ``extra_info``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from longtracerl.io import write_records
from longtracerl.records import Sample

SOURCE = "longqa"


def slime_row(s: Sample) -> dict[str, Any]:
    """One released-format row: source, input_messages, label, metadata.extra_reward_info."""
    return {
        "source": SOURCE,
        "input_messages": [{"role": m["role"], "content": m["content"]} for m in s.messages],
        "label": s.label,
        "metadata": {"extra_reward_info": {"question": s.question, "rubrics": list(s.rubrics),
                                           "dataset_name": s.dataset_name}},
    }


def verl_row(s: Sample, index: int, split: str = "train") -> dict[str, Any]:
    return {
        "data_source": SOURCE,
        "prompt": [{"role": m["role"], "content": m["content"]} for m in s.messages],
        "ability": "long_context_qa",
        "reward_model": {"style": "rule", "ground_truth": s.label},
        "extra_info": {"question": s.question, "rubrics": list(s.rubrics), "index": index, "split": split,
                       "sample_id": s.sample_id},
    }


def write_slime(samples: Sequence[Sample], path: Path | str) -> int:
    return write_records(path, (slime_row(s) for s in samples))


def write_verl(samples: Sequence[Sample], path: Path | str, split: str = "train") -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = [verl_row(s, i, split) for i, s in enumerate(samples)]
    schema = pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("question", pa.string()), ("rubrics", pa.list_(pa.string())),
                                  ("index", pa.int64()), ("split", pa.string()), ("sample_id", pa.string())])),
    ])
    table = pa.Table.from_pylist(rows, schema=schema)
    tmp = p.with_suffix(p.suffix + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, p)
    return len(rows)


HF_COLUMNS = ("sample_id", "question_id", "messages", "label", "rubrics", "question", "n_tokens")  # Sample fields


def write_hf(samples: Sequence[Sample], path: Path | str) -> int:
    """``datasets.Dataset.save_to_disk`` of the ``HF_COLUMNS`` fields of each sample."""
    import datasets
    from datasets import Dataset

    datasets.disable_progress_bars()
    p = Path(path)
    rows = [s.model_dump(include=set(HF_COLUMNS)) for s in samples]
    ds = Dataset.from_list(rows) if rows else Dataset.from_dict({k: [] for k in HF_COLUMNS})
    tmp = p.with_name(p.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    ds.save_to_disk(str(tmp))
    if p.exists():
        shutil.rmtree(p)
    os.replace(tmp, p)
    return len(rows)


def export_all(samples: Sequence[Sample], out_dir: Path | str, formats: Sequence[str] = ("slime", "verl", "hf")) -> dict[str, str]:
    """Write the requested formats into ``out_dir``; returns format -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    for f in formats:
        if f == "slime":
            write_slime(samples, out / "slime.jsonl")
            paths[f] = str(out / "slime.jsonl")
        elif f == "verl":
            write_verl(samples, out / "verl" / "train.parquet")
            paths[f] = str(out / "verl" / "train.parquet")
        elif f == "hf":
            write_hf(samples, out / "hf")
            paths[f] = str(out / "hf")
        else:
            raise ValueError(f"unknown export format {f!r}; known: slime, verl, hf")
    return paths
