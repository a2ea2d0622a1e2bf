"""The ``longtracerl`` command: a thin typer app; each stage folder registers its own commands."""

from __future__ import annotations

import typer

from longtracerl import __version__

app = typer.Typer(
    name="longtracerl",
    help="LongTraceRL: long-context RL data from graph walks and search-agent trajectories, rubric rewards, GRPO.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.command()
def version() -> None:
    """Print the package version."""
    typer.echo(__version__)


def _register_all() -> None:
    # Each stage exposes ``register(app)`` in its ``commands`` module; imports inside the commands
    # themselves stay lazy so ``longtracerl --help`` is fast.
    from longtracerl import schema as schema_cmds
    from longtracerl.corpus import commands as corpus_cmds
    from longtracerl.eval import commands as eval_cmds
    from longtracerl.graph import commands as graph_cmds
    from longtracerl.llm import commands as llm_cmds
    from longtracerl.pipeline import commands as pipeline_cmds
    from longtracerl.reward import commands as reward_cmds
    from longtracerl.synth import commands as synth_cmds
    from longtracerl.train import commands as train_cmds
    from longtracerl.twin import commands as twin_cmds
    from longtracerl.view import commands as view_cmds

    for mod in (reward_cmds, corpus_cmds, graph_cmds, llm_cmds, synth_cmds, pipeline_cmds, train_cmds, eval_cmds,
                view_cmds, twin_cmds):
        mod.register(app)
    schema_cmds.register(app)


_register_all()

if __name__ == "__main__":
    app()
