"""HTTP integration: a real ``longtracerl serve-reward`` process on a free 127.0.0.1 port."""

import subprocess
import sys

import httpx
import pytest

from longtracerl.netutil import free_port, wait_http
from longtracerl.reward import LongTraceReward

TOKEN = "s3cret"


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "longtracerl.cli", "serve-reward", "--port", str(port), "--token", TOKEN,
         "--max-body-mb", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=60, proc=proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


PAYLOAD = {
    "label": "Lyon",
    "extra_reward_info": {"question": "Which city?", "rubrics": ["Paris", "France", "Lyon", "Rhone"],
                          "dataset_name": "longqa", "rubric_reward_ratio": 0.3,
                          "rubric_use_content": True, "rubric_use_reasoning_content": False},
    "history": [{"role": "user", "content": "Documents: ... Which city?"},
                {"role": "assistant", "content": "From Paris, France, down to Lyon.", "reasoning_content": "Rhone"}],
}


def test_evaluate_released_payload(server: httpx.Client) -> None:
    r = server.post("/evaluate", json=PAYLOAD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome_reward"] == 1.0
    assert body["rubric_reward"] == pytest.approx(0.75)  # reasoning not matched: Rhone only in reasoning
    assert body["reward"] == pytest.approx(0.7 * 1.0 + 0.3 * 0.75)


def test_evaluate_with_reasoning_and_response_variants(server: httpx.Client) -> None:
    p = {**PAYLOAD, "extra_reward_info": {**PAYLOAD["extra_reward_info"], "rubric_use_reasoning_content": True}}
    assert server.post("/evaluate", json=p).json()["rubric_reward"] == 1.0
    q = {"label": "Lyon", "response": "<think>Paris</think>Lyon", "extra_reward_info": {"rubrics": ["Paris", "Lyon"]}}
    body = server.post("/evaluate", json=q).json()
    # no rubric_reward_ratio from the client (released slime sends none): the server's eta (0.3) applies
    assert body == {**body, "outcome_reward": 1.0, "rubric_reward": 0.5, "reward": pytest.approx(0.7 + 0.3 * 0.5)}


def test_evaluate_group_matches_the_library(server: httpx.Client) -> None:
    responses = ["<think>x</think>Lyon via Paris", "<think>x</think>Paris, France, Rhone", "<think>x</think>Lyon"]
    r = server.post("/evaluate_group", json={"label": "Lyon", "responses": responses,
                                             "extra_reward_info": PAYLOAD["extra_reward_info"]})
    assert r.status_code == 200, r.text
    expected = LongTraceReward().score_group(responses, "Lyon", PAYLOAD["extra_reward_info"]["rubrics"])
    assert r.json()["rewards"] == pytest.approx([e.reward for e in expected])
    assert r.json()["rewards"][1] == 0.0  # wrong answer, positive-only


def test_auth_body_limit_and_bad_input(server: httpx.Client) -> None:
    base = str(server.base_url)
    assert httpx.post(f"{base}/evaluate", json=PAYLOAD).status_code == 401
    assert httpx.post(f"{base}/evaluate", json=PAYLOAD, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{base}/health").status_code == 200
    big = {**PAYLOAD, "history": [{"role": "assistant", "content": "x" * 2_000_000}]}
    assert server.post("/evaluate", json=big).status_code == 413
    bad = server.post("/evaluate", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400
    missing = server.post("/evaluate", json={"response": "Lyon"})
    assert missing.status_code == 422 and "label" in missing.json()["detail"]
    wrong_type = server.post("/evaluate", json={**PAYLOAD, "extra_reward_info": {"rubrics": "Paris"}})
    assert wrong_type.status_code == 422 and "extra_reward_info.rubrics" in wrong_type.json()["detail"]
    neither = server.post("/evaluate", json={"label": "Lyon"})
    assert neither.status_code == 422 and "history" in neither.json()["detail"]
    # the server survived all of that
    assert server.post("/evaluate", json=PAYLOAD).status_code == 200


def test_slime_stock_remote_rm_payload(server: httpx.Client) -> None:
    """slime's ``remote_rm`` posts only prompt, response and label: no rubric can be earned, so the reward is
    the outcome alone, not (1 - eta) * outcome."""
    ok = server.post("/evaluate", json={"prompt": "Which city?", "response": "Lyon", "label": "Lyon"})
    assert ok.status_code == 200 and ok.json()["reward"] == 1.0 and ok.json()["rubric_reward"] == 0.0
    wrong = server.post("/evaluate", json={"prompt": "Which city?", "response": "Paris", "label": "Lyon"})
    assert wrong.json()["reward"] == 0.0
