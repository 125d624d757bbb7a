"""LongWriter-Zero components through the reward manager: weighted and group-normalized combination."""

from __future__ import annotations

import asyncio

import pytest
from transformers import AutoTokenizer

from writing_rl.curriculum.index_file import create_index
from writing_rl.testing.fake_judge import Reply, answer_block

from .verl_helpers import compose_reward_config, make_batch

pytestmark = pytest.mark.usefixtures("reward_env")


def worker(tmp_path, tok_dir, server, **kw):
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    idx = tmp_path / "index_c.json"
    create_index(idx, range(2))
    return RewardLoopWorker(compose_reward_config(tok_dir, str(idx), server.base_url, **kw))


def gt_len():
    return {"prompt": "Write about 10 words on rain.", "target": ["Rain falls.", "Rain falls softly on roofs."],
            "id": 0, "length_range": [8, 12]}


def test_group_normalized_rewards_reach_each_rollout(tmp_path, tiny_tokenizer_dir, judge_server):
    judge_server.script = lambda req: Reply(text="VERDICT: B" if "good" in answer_block(req.prompt, "B")
                                            else "VERDICT: A")
    w = worker(tmp_path, tiny_tokenizer_dir, judge_server, n=4, components="'pairwise:1.0,length:1.0,format:1.0'",
               combine="group-normalized", layout="think-answer")
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    ten = "good rain falls on the old roof all night long here"
    items = [
        {"response": f"<think>p</think><answer>{ten}</answer>", "gt": gt_len(), "uid": "g1"},  # best on all
        {"response": "<think>p</think><answer>bad rain falls on the old roof all night</answer>", "gt": gt_len(),
         "uid": "g1"},
        {"response": f"<answer>{ten}</answer>", "gt": gt_len(), "uid": "g1"},  # broken format: no answer credit
        {"response": "<think>p</think><answer>bad rain</answer>", "gt": gt_len(), "uid": "g1"},
    ]
    out = asyncio.run(w.compute_score_batch(make_batch(tok, items)))
    scores = [o["reward_score"] for o in out]
    assert sum(scores) == pytest.approx(0.0, abs=1e-6)  # z-scores average to zero within the group
    assert scores[0] == max(scores) and scores[2] == min(scores)
    info = out[0]["reward_extra_info"]
    assert info["reward_format"] == 1.0 and info["reward_length"] == 1.0 and info["reward_pairwise"] == 1.0
    assert out[2]["reward_extra_info"]["outcome"] == "empty"
    assert judge_server.count == 3  # the broken one was not sent to the judge


def test_all_equal_group_gives_zeros_not_nan(tmp_path, tiny_tokenizer_dir, judge_server):
    judge_server.script = lambda req: Reply(text="VERDICT: A")
    w = worker(tmp_path, tiny_tokenizer_dir, judge_server, n=3, components="'pairwise:1.0,length:1.0'",
               combine="group-normalized")
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    items = [{"response": "same text every time here", "gt": gt_len(), "uid": "g"} for _ in range(3)]
    out = asyncio.run(w.compute_score_batch(make_batch(tok, items)))
    assert [o["reward_score"] for o in out] == [0.0, 0.0, 0.0]


def test_weighted_combination_and_logged_components(tmp_path, tiny_tokenizer_dir, judge_server):
    judge_server.script = lambda req: Reply(text="VERDICT: B")
    w = worker(tmp_path, tiny_tokenizer_dir, judge_server, components="'pairwise:1.0,length:0.5'")
    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    out = asyncio.run(w.compute_score_batch(make_batch(tok, [
        {"response": "one two three four five six seven eight nine ten", "gt": gt_len()},
    ])))
    assert out[0]["reward_score"] == pytest.approx(1.0 + 0.5 * 1.0)
    from .verl_helpers import close_step

    m = close_step(w.config, 1)
    assert m["writing_rl/reward/length_mean"] == 1.0 and m["writing_rl/reward/pairwise_mean"] == 1.0
