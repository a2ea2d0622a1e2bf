import pytest


@pytest.mark.llm
def test_bundled_model_answers_through_openai_client(llm_server: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=llm_server, api_key="none")
    r = client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0
    )
    assert r.choices[0].message.content
    assert r.usage is not None and r.usage.completion_tokens > 0
