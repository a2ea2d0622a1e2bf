"""CLI of the LLM stage: ``serve-llm`` (the bundled model behind an OpenAI-compatible server)."""

from __future__ import annotations

from pathlib import Path

import typer


def bind_warning(host: str, api_key: str | None) -> str | None:
    """The warning to print when a server is reachable beyond this machine with no token."""
    if host in ("127.0.0.1", "localhost", "::1") or api_key:
        return None
    return f"warning: serving on {host} without --api-key: anyone who can reach this port can use the model"


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""

    @app.command("serve-llm")
    def serve_llm(
        model: Path = typer.Option(None, help="GGUF file (default: the bundled SmolLM2-135M-Instruct)."),
        host: str = typer.Option("127.0.0.1", help="Bind address; keep 127.0.0.1 unless you set --api-key."),
        port: int = typer.Option(8000, help="Port."),
        api_key: str = typer.Option(None, envvar="LONGTRACERL_LLM_API_KEY", help="Require this bearer token."),
        n_ctx: int = typer.Option(8192, help="Context window."),
        alias: str = typer.Option("smollm2", help="Model name clients send."),
    ) -> None:
        """Serve a GGUF model with llama-cpp-python's OpenAI-compatible server (/v1/chat/completions)."""
        import os
        import sys

        from longtracerl.llm.bundled import bundled_gguf_path

        if (warning := bind_warning(host, api_key)) is not None:
            typer.secho(warning, fg="yellow", err=True)
        args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model or bundled_gguf_path()),
                "--model_alias", alias, "--host", host, "--port", str(port), "--n_ctx", str(n_ctx),
                "--n_threads", str(os.cpu_count() or 2)]
        if api_key:
            args += ["--api_key", api_key]
        typer.echo(f"serving {model or 'the bundled SmolLM2-135M-Instruct'} as {alias!r} on http://{host}:{port}/v1")
        os.execv(sys.executable, args)
