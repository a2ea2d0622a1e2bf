"""CLI of the twin: ``longtracerl serve-twin``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from longtracerl.twin.brain import Knowledge

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def parse_pairs(items: list[str] | None, what: str) -> dict[str, float]:
    """``role=value`` pairs (``--latency writer=3``) into a dict; a bad one is a one-line error naming it."""
    from longtracerl.twin.roles import ROLES

    out: dict[str, float] = {}
    for item in items or []:
        role, sep, val = item.partition("=")
        if not sep or role.strip() not in ROLES:
            raise typer.BadParameter(f"{what} {item!r}: expected ROLE=NUMBER with ROLE one of {', '.join(ROLES)}")
        try:
            out[role.strip()] = float(val)
        except ValueError:
            raise typer.BadParameter(f"{what} {item!r}: {val!r} is not a number") from None
    return out


def load_knowledge(world: str) -> Knowledge:
    """The docstore, graph and search of ``world`` ('sample', or a build config whose world: section names them)."""
    from longtracerl.config import BuildConfig
    from longtracerl.pipeline.context import RunContext
    from longtracerl.twin.brain import Knowledge

    cfg = BuildConfig() if world == "sample" else BuildConfig.load(world)
    ctx = RunContext.__new__(RunContext)  # the world only: no run directory is created
    ctx.cfg, ctx.progress = cfg, False
    return Knowledge(ctx.docstore, ctx.graph, ctx.search)


def register(app: typer.Typer) -> None:
    """Add ``serve-twin`` to ``app``."""

    @app.command("serve-twin")
    def serve_twin(
        host: str = typer.Option("127.0.0.1", help="Bind address; anything but 127.0.0.1 needs --token."),
        port: int = typer.Option(8011, help="Port."),
        token: str = typer.Option(None, envvar="LONGTRACERL_TWIN_TOKEN", help="Require 'Authorization: Bearer TOKEN'."),
        model: str = typer.Option("twin", help="Model name it answers as."),
        capacity: int = typer.Option(32, help="Sequences generated at once (vLLM max_num_seqs); the rest queue."),
        latency: list[str] = typer.Option(None, "--latency", help="ROLE=SECONDS mean latency per call (roles: chooser, "
                                          "writer, agent, judge, eval, other) [30B-class: 0.3, 3, 1.5, 0.4, 3, 1]."),
        time_scale: float = typer.Option(1.0, help="Multiply every latency (0.1: ten times faster; 0: instant)."),
        reasoning: str = typer.Option("none", help="none | think (<think> in the content) | field (reasoning_content)."),
        skill: float = typer.Option(0.75, help="Share of agent attempts on its own questions answered right."),
        fail_rate: float = typer.Option(0.0, help="Share of requests answered 503."),
        timeout_rate: float = typer.Option(0.0, help="Share of requests that hang --hang-seconds, then 504."),
        hang_seconds: float = typer.Option(120.0, help="How long an injected timeout hangs."),
        malformed_rate: float = typer.Option(0.0, help="Share of replies whose body is not JSON."),
        truncate_rate: float = typer.Option(0.0, help="Share of replies cut short (finish_reason length)."),
        seed: int = typer.Option(0, help="Seed of the replies (keep it equal across the twins of a pool)."),
        fault_seed: int = typer.Option(None, help="Seed of the fault stream [--seed]."),
        memory: str = typer.Option(None, help="sqlite file of the questions it wrote: share it between twins of a "
                                   "pool, keep it across restarts [in memory]."),
        tokenizer: str = typer.Option(None, help="Tokenizer counting usage tokens (dir or 'chars') [bundled]."),
        world: str = typer.Option(None, help="What the twin knows of the corpus, as a large model would: 'sample' "
                                  "(the bundled world) or a build config YAML (its world: section) [only the prompts]."),
    ) -> None:
        """A scripted OpenAI-compatible model playing every LLM role of build, reward and eval (rehearse a GPU run)."""
        import uvicorn
        from pydantic import ValidationError

        from longtracerl.twin.memory import TwinMemory
        from longtracerl.twin.service import LATENCY_30B, Twin, TwinConfig, create_twin_app

        if host not in LOCAL_HOSTS and not token:
            typer.secho(f"error: serving on {host} needs --token (or LONGTRACERL_TWIN_TOKEN)", fg="red", err=True)
            raise typer.Exit(2)
        try:
            cfg = TwinConfig(model=model, capacity=capacity, latency={**LATENCY_30B, **parse_pairs(latency, "--latency")},
                             time_scale=time_scale, reasoning=reasoning, skill=skill, fail_rate=fail_rate,  # type: ignore[arg-type]
                             timeout_rate=timeout_rate, hang_seconds=hang_seconds, malformed_rate=malformed_rate,
                             truncate_rate=truncate_rate, seed=seed, fault_seed=fault_seed, tokenizer=tokenizer)
        except ValidationError as e:
            err = e.errors()[0]
            typer.secho(f"error: --{'-'.join(str(x) for x in err['loc']).replace('_', '-')}: {err['msg']}", fg="red", err=True)
            raise typer.Exit(2) from None
        twin = Twin(cfg, TwinMemory(memory), load_knowledge(world) if world else None)
        typer.echo(f"serve-twin on http://{host}:{port}/v1 (model {model!r}, capacity {capacity}, time scale {time_scale})",
                   err=True)
        uvicorn.run(create_twin_app(twin, token=token), host=host, port=port, log_level="warning")
