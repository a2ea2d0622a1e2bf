"""CLI of the reward stage: ``serve-reward`` and ``reward-demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

DEMO_FILE = Path(__file__).with_name("demo_group.yaml")


def reward_config_from(path: Path | None, flags: dict[str, Any]) -> Any:
    """A ``RewardConfig`` from an optional YAML file, then the non-None ``flags`` (dotted keys) on top, checked:
    a judge outcome needs an endpoint and a prompt file must be a valid template (one-line errors)."""
    import yaml

    from longtracerl.config import set_dotted
    from longtracerl.presets import check_reward_requirements
    from longtracerl.reward.core import RewardConfig
    from longtracerl.reward.judge import load_judge_template

    data: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a reward config must be a mapping of RewardConfig fields")
        data = loaded.get("reward", loaded)
    for k, v in flags.items():
        if v is not None:
            set_dotted(data, k, v)
    try:
        cfg = RewardConfig.model_validate(data)
    except ValueError as e:
        raise ValueError(f"{path or 'flags'}: invalid reward config: {e}") from None
    check_reward_requirements(cfg)
    if cfg.outcome == "judge" and cfg.judge.prompt_file:
        load_judge_template(cfg.judge.prompt_file)
    return cfg


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""

    @app.command("serve-reward")
    def serve_reward(
        host: str = typer.Option("127.0.0.1", help="Bind address; keep 127.0.0.1 unless you set --token."),
        port: int = typer.Option(8300, help="Port."),
        preset: str = typer.Option(None, "--preset", help="default | paper (judge outcome, released format gate, "
                                   "reference rubric, eta 0.3, positive-only); the flags below override it."),
        outcome: str = typer.Option(None, help="Outcome scorer: rule | judge [rule]."),
        rule: str = typer.Option(None, help="Rule scorer with --outcome rule: contains | em | f1 | choice [contains]."),
        judge_base_url: list[str] = typer.Option(None, help="OpenAI-compatible judge endpoint, e.g. "
                                                 "http://127.0.0.1:8000/v1; repeat it for a pool of endpoints."),
        judge_model: str = typer.Option(None, help="Judge model name."),
        judge_api_key: str = typer.Option(None, envvar="LONGTRACERL_JUDGE_API_KEY", help="Judge API key."),
        judge_prompt: str = typer.Option(None, help="Built-in judge prompt: hle | aa_lcr [hle]."),
        judge_prompt_file: Path = typer.Option(None, help="Judge template file with {question} {response} "
                                               "{correct_answer} placeholders (e.g. the released wording)."),
        judge_concurrency: int = typer.Option(None, help="Judge requests in flight [128]."),
        judge_timeout: float = typer.Option(None, help="Seconds per judge call [60]."),
        eta: float = typer.Option(None, help="Rubric weight for /evaluate_group [0.3]."),
        strategy: str = typer.Option(None, help="Group strategy for /evaluate_group [positive_only]."),
        rubric_mode: str = typer.Option(None, help="word | reference (the released matching) [word]."),
        format_rule: str = typer.Option(None, "--format", help="Format gate: released | lenient [lenient]."),
        config: Path = typer.Option(None, help="RewardConfig YAML (the flags above override it)."),
        token: str = typer.Option(None, envvar="LONGTRACERL_REWARD_TOKEN", help="Require 'Authorization: Bearer TOKEN'."),
        max_body_mb: float = typer.Option(16.0, help="Largest request body (413 beyond)."),
        workers: int = typer.Option(1, help="uvicorn worker processes (rubric matching is CPU-bound)."),
    ) -> None:
        """Serve the reward over HTTP (POST /evaluate, POST /evaluate_group, GET /health)."""
        import os
        import tempfile

        import uvicorn

        from longtracerl.presets import print_table, settings_table
        from longtracerl.reward.core import CONFIG_ENV

        urls = list(judge_base_url or [])
        flags = {"preset": preset, "outcome": outcome, "rule": rule, "eta": eta, "strategy": strategy,
                 "rubric_mode": rubric_mode, "format": format_rule,
                 "judge.base_url": (urls[0] if len(urls) == 1 else urls) or None, "judge.model": judge_model,
                 "judge.api_key": judge_api_key,
                 "judge.prompt": judge_prompt, "judge.prompt_file": str(judge_prompt_file) if judge_prompt_file else None,
                 "judge.max_concurrency": judge_concurrency, "judge.timeout": judge_timeout}
        try:
            cfg = reward_config_from(config, flags)
        except (ValueError, OSError) as e:
            typer.secho(f"error: {e}", fg="red", err=True)
            raise typer.Exit(2) from None
        print_table(settings_table(reward=cfg), f"reward settings vs the paper (preset: {cfg.preset})")
        if host not in ("127.0.0.1", "localhost", "::1") and token is None:
            typer.secho(f"warning: serving on {host} without --token", fg="yellow", err=True)
        # the workers read the resolved settings as the adapters do: a config FILE named by the variable
        fd, resolved = tempfile.mkstemp(prefix="longtracerl-reward-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cfg.model_dump_json())
        os.environ[CONFIG_ENV] = resolved
        os.environ["LONGTRACERL_REWARD_MAX_BODY"] = str(int(max_body_mb * 1024 * 1024))
        if token is not None:
            os.environ["LONGTRACERL_REWARD_TOKEN"] = token
        try:
            uvicorn.run("longtracerl.reward.server:app_from_env", factory=True, host=host, port=port,
                        workers=workers, log_level="warning", access_log=False)
        finally:
            Path(resolved).unlink(missing_ok=True)

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

        from longtracerl.reward.core import LongTraceReward, RewardConfig

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
