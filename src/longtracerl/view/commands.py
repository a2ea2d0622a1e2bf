"""CLI of the viewer: ``longtracerl view runs/<name>`` (serve a run) and ``longtracerl view-html`` (write pages)."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""

    @app.command("view")
    def view(
        run_dir: Path = typer.Argument(..., help="A build run (runs/<name>) or an eval run (runs/eval/<name>)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Bind address; anything but loopback needs a token."),
        port: int = typer.Option(8400, "--port", help="Port (0: any free port)."),
        token: str = typer.Option(None, "--token", envvar="LONGTRACERL_VIEW_TOKEN",
                                  help="Require this token (generated when --host is not loopback)."),
        docstore: Path = typer.Option(None, "--docstore", help="DocStore directory, if not the one in config.yaml."),
    ) -> None:
        """Serve a build run's samples, trajectories and documents (paged from its JSONL files), or an eval run's page."""
        import socket

        import uvicorn
        from rich.console import Console

        from longtracerl.view.server import create_app, create_eval_app, resolve_token

        console = Console(stderr=True)
        if not run_dir.is_dir():
            console.print(f"[red]error:[/] {run_dir}: no such run directory", highlight=False, soft_wrap=True)
            raise typer.Exit(2)
        tok = resolve_token(host, token)
        if (run_dir / "results.jsonl").exists():  # an eval run: its page, re-read on every request
            app_ = create_eval_app(run_dir, token=tok)
        else:
            app_ = create_app(run_dir, token=tok, docstore=docstore)
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        shown = host if ":" not in host else f"[{host}]"
        url = f"http://{shown}:{sock.getsockname()[1]}/" + (f"?token={tok}" if tok else "")
        console.print(f"viewing [bold]{run_dir}[/] at {url}", highlight=False, soft_wrap=True)
        uvicorn.Server(uvicorn.Config(app_, log_level="warning")).run(sockets=[sock])

    @app.command("view-html")
    def view_html(
        run_dir: Path = typer.Argument(..., help="A build run (runs/<name>) or an eval run (runs/eval/<name>)."),
        max_samples: int = typer.Option(100, "--max-samples", help="Samples embedded in full in the page."),
    ) -> None:
        """(Re)write a run's index.html: report/index.html of a build, index.html of an eval run."""
        from longtracerl.view import write_build_html, write_eval_html

        if (run_dir / "results.jsonl").exists():
            typer.echo(write_eval_html(run_dir))
        else:
            typer.echo(write_build_html(run_dir, max_samples=max_samples))
