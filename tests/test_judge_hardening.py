"""Judge calls under hostile servers and data: whole-call deadline, truncated replies, strict ground truths,
and the redactor that keeps keys and URL passwords out of everything printed or written."""

from __future__ import annotations

import asyncio
import io
import sys
import time

import pytest

from writing_rl.curriculum.state import CurriculumError
from writing_rl.judge import JudgeClient, JudgeInputError, JudgeSettings, PairwiseJudge, format_criteria
from writing_rl.redact import public_url, redact_config, scrub, scrub_obj, scrubbed_stdio, with_credentials
from writing_rl.reward_manager import parse_sample
from writing_rl.testing.fake_judge import Reply


def judged(settings: JudgeSettings, criteria=None) -> tuple[object, float]:
    """One comparison with a client built beforehand; returns the judgment and the call's seconds."""

    async def go():
        client = JudgeClient(settings)  # SDK imports and set-up happen here, outside the timed call
        judge = PairwiseJudge(settings, client=client)
        try:
            t0 = time.monotonic()
            j = await judge.compare("Write a poem.", "A reference poem.", "A response poem.", criteria)
            return j, time.monotonic() - t0
        finally:
            await client.close()

    return asyncio.run(go())


@pytest.mark.parametrize("backend", ["openai", "dashscope"])
def test_a_trickling_server_cannot_hold_a_call_past_the_timeout(judge_server, fast_settings, backend,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-dashscope-0000000000")
    judge_server.script = lambda req: Reply(text="VERDICT: B", trickle_s=20)  # a space every 0.1 s for 20 s
    url = judge_server.base_url if backend == "openai" else judge_server.dashscope_url
    settings = fast_settings.replace(base_url=url, backend=backend, timeout_s=2.0, max_retries=0)
    j, seconds = judged(settings)
    assert j.outcome == "failed" and "timeout after 2s (JUDGE_TIMEOUT)" in j.reason
    assert seconds < 3.0, seconds


@pytest.mark.parametrize("backend", ["openai", "dashscope"])
def test_a_reply_cut_at_max_tokens_is_failed_even_after_a_draft_verdict(judge_server, fast_settings, backend,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-dashscope-0000000000")
    judge_server.script = lambda req: Reply(text="Draft: B looks stronger.\nVERDICT: B\nOn a second reading, A",
                                            finish_reason="length")
    url = judge_server.base_url if backend == "openai" else judge_server.dashscope_url
    j, _ = judged(fast_settings.replace(base_url=url, backend=backend))
    assert j.outcome == "failed" and j.reason.startswith("order with response as B: truncated")
    assert "JUDGE_MAX_TOKENS" in j.reason
    judge_server.script = lambda req: Reply(text="VERDICT: B", finish_reason="stop")
    j, _ = judged(fast_settings.replace(base_url=url, backend=backend))
    assert j.outcome == "win"


def test_criteria_of_the_wrong_type_are_an_input_error(judge_server, fast_settings) -> None:
    with pytest.raises(JudgeInputError, match="got int"):
        format_criteria(5)
    with pytest.raises(JudgeInputError, match="criteria item 1 must be text or a checklist object, got float"):
        format_criteria(["clear", 2.5])
    with pytest.raises(JudgeInputError, match="got int"):
        judged(fast_settings, criteria=5)
    assert judge_server.count == 0  # nothing was sent


@pytest.mark.parametrize("target,needle", [
    (["fine", None], "target[1] must be text, got NoneType"),
    ([3, "fine"], "target[0] must be text, got int"),
    (["fine", {"text": "x"}], "target[1] must be text, got dict"),
    ({"text": "x"}, "target must be a list of reference texts, got dict"),
    (7, "target must be a list of reference texts, got int"),
])
def test_non_text_references_are_named_not_judged(target, needle) -> None:
    gt = {"id": 12, "prompt": "Write.", "target": target}
    with pytest.raises(CurriculumError, match=r"sample 12: reward_model\.ground_truth\." + needle.replace("[", r"\[")
                       .replace("]", r"\]")):
        parse_sample(gt, {"index": 12})


def test_criteria_of_the_wrong_type_in_the_data_name_the_sample() -> None:
    with pytest.raises(CurriculumError, match="sample 4: reward_model.ground_truth.criteria: .*got int"):
        parse_sample({"id": 4, "prompt": "Write.", "target": ["r"], "criteria": 5}, {})
    import numpy as np

    sample = parse_sample({"id": 5, "prompt": "Write.", "target": np.array(["a", "b"], dtype=object),
                           "criteria": "Be clear."}, {})
    assert sample.target == ["a", "b"]


# ----------------------------------------------------------------------------- the redactor
def test_scrub_removes_known_keys_url_passwords_and_secret_shapes(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdefghij0123456789")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok_9f8e7d6c5b4a")
    monkeypatch.setenv("JUDGE_BASE_URL", "http://judge:s3cr%40t-pw@h1:8000/v1#4,http://h2/v1")
    monkeypatch.setenv("JUDGE_MAX_TOKENS", "2048")  # a setting, not a secret
    text = ("key sk-live-abcdefghij0123456789 token tok_9f8e7d6c5b4a pw s3cr@t-pw url http://judge:s3cr%40t-pw@h1:8000"
            " header {'Authorization': 'Bearer abc123def456ghi'} x-api-key: QWERTY123456 basic dXNlcjpwYXNz1 "
            "and max_tokens 2048, a basic question, the bearer of news")
    out = scrub(text)
    for secret in ("sk-live-abcdefghij0123456789", "tok_9f8e7d6c5b4a", "s3cr@t-pw", "s3cr%40t-pw", "abc123def456ghi",
                   "QWERTY123456", "dXNlcjpwYXNz1", "judge:"):
        assert secret not in out, (secret, out)
    assert "2048" in out and "a basic question" in out and "the bearer of news" in out and "http://h1:8000" in out
    assert scrub(out) == out  # idempotent


def test_public_url_and_config_redaction(monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_BASE_URL", "https://u:hunter22@judge.example/v1")
    assert public_url("http://u:p@h1:8000/v1?key=1#32,http://h2/v1#16") == "http://h1:8000/v1#32,http://h2/v1#16"
    assert public_url("https://user:secret@host.example:8443/v1?key=abc") == "https://host.example:8443/v1"
    cfg = {"reward": {"reward_kwargs": {"judge": {"base_url": "https://u:hunter22@judge.example/v1",
                                                  "api_key": "whatever-value", "max_tokens": 2048}}},
           "data": {"pad_token_id": 3, "tokenizer": "gpt2"}}
    shown = redact_config(cfg)
    assert shown["reward"]["reward_kwargs"]["judge"] == {"base_url": "https://judge.example/v1",
                                                         "api_key": "<redacted>", "max_tokens": 2048}
    assert shown["data"] == cfg["data"]
    assert scrub_obj({"errors": ["pw hunter22"]}) == {"errors": ["pw <redacted>"]}


def test_everything_the_cli_prints_passes_the_redactor(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-printed-0123456789abcdef")
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    with scrubbed_stdio():
        print("the key is sk-printed-0123456789abcdef")
        print("warning: Bearer zzz999yyy888", file=sys.stderr)
    assert out.getvalue() == "the key is <redacted>\n" and err.getvalue() == "warning: Bearer <redacted>\n"


def test_a_public_url_in_the_config_gets_its_password_from_the_environment() -> None:
    env = {"JUDGE_BASE_URL": "http://u:pw123456@h1:8000/v1#4,http://h2:8000/v1"}
    assert with_credentials("http://h1:8000/v1#4,http://h2:8000/v1", env) == env["JUDGE_BASE_URL"]
    assert with_credentials("http://h3:8000/v1", env) == "http://h3:8000/v1"  # another endpoint: unchanged
    assert with_credentials("http://h1:8000/v1", {}) == "http://h1:8000/v1"
