"""CLI of the reward stage: ``serve-reward`` and ``reward-demo``."""

from __future__ import annotations

from pathlib import Path

import typer

DEMO_FILE = Path(__file__).with_name("demo_group.yaml")


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""

    @app.command("serve-reward")
    def serve_reward(
        host: str = typer.Option("127.0.0.1", help="Bind address; keep 127.0.0.1 unless you set --token."),
        port: int = typer.Option(8300, help="Port."),
        outcome: str = typer.Option("rule", help="Outcome scorer: rule | judge."),
        rule: str = typer.Option("contains", help="Rule scorer with --outcome rule: contains | em | f1 | choice."),
        judge_base_url: list[str] = typer.Option(None, help="OpenAI-compatible judge endpoint, e.g. "
                                                 "http://127.0.0.1:8000/v1; repeat it for a pool of endpoints."),
        judge_model: str = typer.Option("", help="Judge model name."),
        judge_api_key: str = typer.Option("none", envvar="LONGTRACERL_JUDGE_API_KEY", help="Judge API key."),
        judge_prompt: str = typer.Option("hle", help="Judge prompt: hle | aa_lcr."),
        judge_concurrency: int = typer.Option(256, help="Judge requests in flight."),
        judge_timeout: float = typer.Option(60.0, help="Seconds per judge call."),
        eta: float = typer.Option(0.3, help="Rubric weight for /evaluate_group."),
        strategy: str = typer.Option("positive_only", help="Group strategy for /evaluate_group."),
        rubric_mode: str = typer.Option("word", help="word | reference (the released matching)."),
        config: Path = typer.Option(None, help="RewardConfig YAML (flags above override nothing when given)."),
        token: str = typer.Option(None, envvar="LONGTRACERL_REWARD_TOKEN", help="Require 'Authorization: Bearer TOKEN'."),
        max_body_mb: float = typer.Option(16.0, help="Largest request body (413 beyond)."),
        workers: int = typer.Option(1, help="uvicorn worker processes (rubric matching is CPU-bound)."),
    ) -> None:
        """Serve the reward over HTTP (POST /evaluate, POST /evaluate_group, GET /health)."""
        import os

        import uvicorn

        from longtracerl.reward.scoring import JudgeSettings, RewardConfig

        if config is not None:
            cfg = RewardConfig.from_yaml(config)
        else:
            urls = list(judge_base_url or [])
            cfg = RewardConfig.model_validate(dict(
                eta=eta, strategy=strategy, rubric_mode=rubric_mode, outcome=outcome, rule=rule,
                judge=JudgeSettings(base_url=(urls[0] if len(urls) == 1 else urls) or None, api_key=judge_api_key,
                                    model=judge_model,
                                    prompt=judge_prompt, max_concurrency=judge_concurrency, timeout=judge_timeout)))
        if cfg.outcome == "judge" and not cfg.judge.base_url:
            raise typer.BadParameter("--outcome judge needs --judge-base-url", param_hint="--judge-base-url")
        if host not in ("127.0.0.1", "localhost", "::1") and token is None:
            typer.secho(f"warning: serving on {host} without --token", fg="yellow", err=True)
        os.environ["LONGTRACERL_REWARD_CONFIG"] = cfg.model_dump_json()
        os.environ["LONGTRACERL_REWARD_MAX_BODY"] = str(int(max_body_mb * 1024 * 1024))
        if token is not None:
            os.environ["LONGTRACERL_REWARD_TOKEN"] = token
        uvicorn.run("longtracerl.reward.server:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="warning", access_log=False)

    @app.command("reward-demo")
    def reward_demo(
        eta: float = typer.Option(0.3, help="Rubric weight."),
        strategy: str = typer.Option("positive_only", help="positive_only | all | negative_only | outcome_only | longrlvr."),
        rubric_mode: str = typer.Option("word", help="word | reference."),
        file: Path = typer.Option(DEMO_FILE, help="YAML with question, label, rubrics, responses[name, text]."),
    ) -> None:
        """Score one bundled group of 8 responses and print outcome, rubric, normalized rubric and reward."""
        import yaml
        from rich.console import Console
        from rich.table import Table

        from longtracerl.reward.scoring import LongTraceReward, RewardConfig

        data = yaml.safe_load(file.read_text())
        reward = LongTraceReward(RewardConfig.model_validate(dict(eta=eta, strategy=strategy, rubric_mode=rubric_mode)))
        texts = [r["text"] for r in data["responses"]]
        results = reward.score_group(texts, data["label"], data["rubrics"], question=data["question"])
        table = Table(title=f"LongTraceRL reward, one group of {len(texts)} (eta={eta}, {strategy}, rubric={rubric_mode})")
        for col in ("response", "outcome", "rubric", "rubric/max", "reward", "matched entities"):
            table.add_column(col, justify="left" if col in ("response", "matched entities") else "right")
        for r, res in zip(data["responses"], results, strict=True):
            note = f" (gate: {res.details['format_gate']})" if "format_gate" in res.details else ""
            table.add_row(r["name"] + note, f"{res.outcome:.0f}", f"{res.rubric_raw:.2f}", f"{res.rubric_normalized:.2f}",
                          f"{res.reward:.3f}", ", ".join(res.matched_entities))
        Console(width=max(110, Console().width)).print(table)
        typer.echo(f"gold answer: {data['label']}   rubrics: {', '.join(data['rubrics'])}")
