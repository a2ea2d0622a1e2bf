"""Client of an OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM, TEI, llama.cpp, hosted APIs).

Vectors come back L2-normalised float32, so inner product is cosine similarity. An endpoint that answers
one vector per token (llama-cpp-python's server for a model without a pooling type, such as the bundled
SmolLM2) is mean-pooled here. Every failure names the endpoint: unreachable, an HTTP error, an answer that
is not a list of vectors, or vectors of another dimension than the index was built with.

Such per-token endpoints are then asked one text per request: llama-cpp-python 0.3 returns wrong
per-token vectors for every text but the first of a batched request (measured: cosine ~0 between a text
embedded second in a batch and alone), so batching them would silently corrupt the index.
"""

from __future__ import annotations

import os
import time
import weakref
from typing import Any

import httpx
import numpy as np

API_KEY_ENV = "LONGTRACERL_EMBED_API_KEY"


class EmbeddingError(RuntimeError):
    """The embedding endpoint failed or answered something unusable; the message names the endpoint."""


class EmbeddingClient:
    """``embed(texts) -> (n, dim) float32`` over HTTP, in one request per call, with retries on network
    errors and 5xx answers. ``dim`` (when known, e.g. from an index) is checked on every answer."""

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 dim: int | None = None, timeout: float = 120.0, retries: int = 2) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/embeddings"
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(headers=headers, timeout=timeout)
        weakref.finalize(self, self._http.close)  # a backend that is never closed still closes its sockets
        self.retries = retries
        self.dim = dim
        self.model = model if model else self._first_model()
        self.one_per_request: bool | None = None  # per-token endpoint? learnt from the first one-text request

    def _first_model(self) -> str:
        """The served model when none is named (llama.cpp and TEI serve one; vLLM needs its exact name)."""
        try:
            r = self._http.get(f"{self.base_url}/models", timeout=10)
            data = r.json().get("data") or []
            if r.status_code == 200 and data and isinstance(data[0], dict) and data[0].get("id"):
                return str(data[0]["id"])
        except (httpx.HTTPError, ValueError, AttributeError):
            pass
        return "default"

    def _post(self, body: dict[str, Any]) -> Any:
        err = ""
        for attempt in range(self.retries + 1):
            try:
                r = self._http.post(self.url, json=body)
            except httpx.HTTPError as e:
                err = f"embedding endpoint {self.url} is unreachable ({type(e).__name__}: {e})"
            else:
                if r.status_code < 500:
                    if r.status_code != 200:
                        raise EmbeddingError(f"embedding endpoint {self.url} answered HTTP {r.status_code}: "
                                             f"{r.text[:300]}")
                    try:
                        return r.json()
                    except ValueError:
                        raise EmbeddingError(f"embedding endpoint {self.url} answered something that is not "
                                             f"JSON: {r.text[:200]!r}") from None
                err = f"embedding endpoint {self.url} answered HTTP {r.status_code}: {r.text[:300]}"
            if attempt < self.retries:
                time.sleep(0.5 * 2 ** attempt)
        raise EmbeddingError(err)

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised vectors of ``texts`` (empty strings are sent as one space)."""
        if not texts:
            return np.zeros((0, self.dim or 0), dtype=np.float32)
        if self.one_per_request is None and len(texts) > 1:  # learn the endpoint's kind on one text first
            first = self.embed(texts[:1])
            return np.vstack([first, self.embed(texts[1:])])
        if self.one_per_request and len(texts) > 1:
            return np.vstack([self.embed([t]) for t in texts])
        payload = self._post({"model": self.model, "input": [t if t.strip() else " " for t in texts]})
        try:
            rows = sorted(payload["data"], key=lambda d: d.get("index", 0))
            vecs = [np.asarray(d["embedding"], dtype=np.float32) for d in rows]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise EmbeddingError(f"embedding endpoint {self.url} did not answer a list of vectors "
                                 f"(expected {{'data': [{{'embedding': [...]}}]}})") from None
        if len(vecs) != len(texts):
            raise EmbeddingError(f"embedding endpoint {self.url} returned {len(vecs)} vectors for {len(texts)} texts")
        per_token = any(v.ndim == 2 for v in vecs)
        if per_token and len(texts) > 1:  # the batched answer is not to be trusted: one text per request
            self.one_per_request = True
            return self.embed(texts)
        if self.one_per_request is None:
            self.one_per_request = per_token
        vecs = [v.mean(axis=0) if v.ndim == 2 else v for v in vecs]  # one vector per token: mean-pool
        dims = {v.shape[0] if v.ndim == 1 else -1 for v in vecs}
        if len(dims) != 1 or -1 in dims:
            raise EmbeddingError(f"embedding endpoint {self.url} returned vectors of mixed or invalid dimensions "
                                 f"{sorted(dims)}")
        got = dims.pop()
        if self.dim is not None and got != self.dim:
            raise EmbeddingError(f"embedding endpoint {self.url} (model {self.model!r}) returned vectors of dimension "
                                 f"{got}, expected {self.dim}: it is not the model the index was built with")
        out = np.vstack(vecs).astype(np.float32, copy=False)
        if not np.isfinite(out).all():
            raise EmbeddingError(f"embedding endpoint {self.url} returned non-finite values")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmbeddingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
