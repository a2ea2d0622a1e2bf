"""Small benchmark files written by the tests in each benchmark's official layout (no real data copied),
and a scripted OpenAI-compatible stub for runs whose answers must be predictable."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest


def write_longbench_v2(path: Path, n: int = 6) -> Path:
    rows = []
    for i in range(n):
        rows.append({"_id": f"lb{i:02d}", "domain": ["Single-Document QA", "Code Repository Understanding"][i % 2],
                     "sub_domain": "x", "difficulty": ["easy", "hard"][i % 2],
                     "length": ["short", "medium", "long"][i % 3], "question": f"Which option is number {i}?",
                     "choice_A": "first", "choice_B": "second", "choice_C": "third", "choice_D": "fourth",
                     "answer": "ABCD"[i % 4], "context": f"Context {i}. " + "Lorem ipsum dolor sit amet. " * 40})
    path.write_text(json.dumps(rows))
    return path


def write_mrcr(folder: Path, rows_per_file: int = 2) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for needles in (2, 4):
        d = folder / f"{needles}needle"
        d.mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(rows_per_file):
            prefix = f"r{needles}x{i}Q"
            msgs = [{"role": "user", "content": "write a poem about frogs"},
                    {"role": "assistant", "content": "Frogs sing at night. " * 30},
                    {"role": "user", "content": f"Prepend {prefix} to the 1st poem about frogs."}]
            rows.append({"prompt": json.dumps(msgs), "answer": prefix + "Frogs sing at night.",
                         "random_string_to_prepend": prefix, "n_needles": needles, "desired_msg_index": 1,
                         "total_messages": 3, "n_chars": sum(len(m["content"]) for m in msgs)})
        pq.write_table(pa.Table.from_pylist(rows), d / f"{needles}needle_0.parquet")
    return folder


def write_frames(path: Path) -> Path:
    cols = ["", "Prompt", "Answer", *[f"wikipedia_link_{k}" for k in range(1, 11)], "wikipedia_link_11+",
            "reasoning_types", "wiki_links"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(cols)
        links = ["https://en.wikipedia.org/wiki/Ada_Lovelace", "https://en.wikipedia.org/wiki/Charles_Babbage#Life",
                 "https://en.wikipedia.org/wiki/No_Such_Page_%C3%89"]
        w.writerow(["0", "Who wrote the first program for Babbage's engine?", "Ada Lovelace", *links, *[""] * 7, "",
                    "Multiple constraints | Temporal reasoning", json.dumps(links)])
        w.writerow(["1", "Which engine did Babbage design?", "The Analytical Engine", links[1], *[""] * 9, "",
                    "Numerical reasoning", json.dumps(links[1:2])])
    return path


class _NoUtf8Flag(zipfile.ZipInfo):
    """Writes the name as raw UTF-8 bytes WITHOUT the zip's UTF-8 flag, as some archivers do."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802 - zipfile's private hook
        return self.filename.encode("utf-8"), self.flag_bits & ~0x800


def write_aa_lcr_hf(folder: Path) -> Path:
    """AA-LCR_Dataset.csv + an extracted-text zip whose non-ASCII names are UTF-8 WITHOUT the UTF-8 flag."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["report_2023.txt", "Übersicht.txt", "notes.txt"]
    zpath = folder / "AA-LCR_extracted-text.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for k, n in enumerate(names):
            member = f"lcr/Legal/set{k // 2}/{n}"
            z.writestr(_NoUtf8Flag(member), f"Text of {n}. " * 20)
    with (folder / "AA-LCR_Dataset.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["document_category", "document_set_id", "question_id", "question", "answer",
                    "data_source_filenames", "input_tokens"])
        w.writerow(["Legal", "set0", "1", "What do the two files say?", "Texts", "report_2023.txt;Übersicht.txt", "100"])
        w.writerow(["Legal", "set1", "2", "What do the notes say?", "Notes", "notes.txt", "50"])
    return folder


def write_longreason(folder: Path, splits: tuple[str, ...] = ("8k", "16k")) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (folder / "data").mkdir(parents=True, exist_ok=True)
    for s in splits:
        rows = [{"prompt": f"Background ({s}) ... Question {i}? A. x B. y C. z D. w", "question": f"q{i}",
                 "background": "b", "final_inquiry": f"Which is right {i}?", "answer": "ABCD"[i], "analysis": "",
                 "example_idx": i} for i in range(3)]
        pq.write_table(pa.Table.from_pylist(rows), folder / "data" / f"{s}-00000-of-00001.parquet")
    return folder


@pytest.fixture()
def bench_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "longbench-v2": write_longbench_v2(tmp_path / "data.json"),
        "mrcr": write_mrcr(tmp_path / "mrcr"),
        "frames": write_frames(tmp_path / "test.tsv"),
        "aa-lcr": write_aa_lcr_hf(tmp_path / "aa"),
        "longreason": write_longreason(tmp_path / "lr"),
    }
