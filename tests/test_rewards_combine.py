"""Combination of reward components: the spec, weighted sums, group normalization, judged values, the config."""

from __future__ import annotations

import asyncio
import math

import pytest

from writing_rl.judge import JudgeSettings
from writing_rl.judge.compare import PairwiseJudge
from writing_rl.rewards import (
    RewardConfig,
    RewardConfigError,
    combine_group_normalized,
    combine_weighted,
    local_scores,
    normalize_group,
    parse_components,
)
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply, answer_block


def test_parse_components() -> None:
    assert parse_components("pairwise:1.0,length:1.0,format:0.5") == {"pairwise": 1.0, "length": 1.0, "format": 0.5}
    got = parse_components(" Pairwise : 2 , repetition ,length:0 ")
    assert got == {"pairwise": 2.0, "repetition": 1.0, "length": 0.0}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("pairwise:1,lenght:1", "unknown reward component 'lenght' in REWARD_COMPONENTS='pairwise:1,lenght:1'; known:"),
        ("pairwise:heavy", "weight 'heavy' of pairwise in REWARD_COMPONENTS is not a number"),
        ("pairwise:-1", "must be a finite number >= 0"),
        ("pairwise:nan", "must be a finite number >= 0"),
        ("length:1,length:2", "appears twice"),
        ("length:0", "no component with a positive weight"),
        ("", "no component with a positive weight"),
    ],
)
def test_parse_components_errors(spec: str, needle: str) -> None:
    with pytest.raises(RewardConfigError) as e:
        parse_components(spec)
    assert needle in str(e.value)


def test_combine_weighted() -> None:
    w = {"pairwise": 1.0, "length": 1.0, "format": 0.5}
    assert combine_weighted({"pairwise": 0.5, "length": 0.8, "format": 1.0}, w) == pytest.approx(1.8)
    assert combine_weighted({"pairwise": None, "length": 0.8, "format": 1.0}, w) is None
    assert combine_weighted({"pairwise": 1.0, "length": None, "format": 0.0}, {"pairwise": 1, "length": 0}) == 1.0
    with pytest.raises(KeyError, match="no value for reward component 'format'"):
        combine_weighted({"pairwise": 1.0, "length": 1.0}, w)


def test_normalize_group_on_a_constructed_group() -> None:
    group = [{"pairwise": 1.0, "length": 0.5}, {"pairwise": 0.5, "length": 0.5}, {"pairwise": 0.0, "length": 0.5}]
    z = normalize_group(group)
    # pairwise: mean 0.5, sample std 0.5 -> 1, 0, -1; length: all equal -> zeros, not NaN
    assert [r["pairwise"] for r in z] == pytest.approx([1.0, 0.0, -1.0])
    assert [r["length"] for r in z] == [0.0, 0.0, 0.0]
    assert normalize_group([{"pairwise": 0.7, "length": 0.2}]) == [{"pairwise": 0.0, "length": 0.0}]
    assert normalize_group([]) == []


def test_failed_values_stay_out_of_the_statistics() -> None:
    group = [{"pairwise": 1.0}, {"pairwise": None}, {"pairwise": 0.0}]
    z = normalize_group(group)
    assert z[1]["pairwise"] is None
    assert [z[0]["pairwise"], z[2]["pairwise"]] == pytest.approx([math.sqrt(0.5), -math.sqrt(0.5)])
    assert combine_group_normalized(group, {"pairwise": 1.0})[1] is None
    with pytest.raises(KeyError, match="'length'"):
        normalize_group([{"pairwise": 1.0, "length": 1.0}, {"pairwise": 0.0}])


def test_group_normalized_is_a_weighted_mean_of_z_scores_and_ignores_scale() -> None:
    group = [
        {"pairwise": 1.0, "length": 0.0, "format": 1.0},
        {"pairwise": 0.0, "length": 1.0, "format": 1.0},
        {"pairwise": 0.5, "length": 0.5, "format": 0.0},
        {"pairwise": 0.5, "length": 0.5, "format": 1.0},
    ]
    w = {"pairwise": 1.0, "length": 1.0, "format": 0.5}
    z = normalize_group(group)
    expected = [(z[i]["pairwise"] + z[i]["length"] + 0.5 * z[i]["format"]) / 2.5 for i in range(4)]
    out = combine_group_normalized(group, w)
    assert out == pytest.approx(expected)
    assert sum(out) == pytest.approx(0.0, abs=1e-12)
    assert out[2] < out[3]  # the broken-format sample ranks last among equals
    # scaling one component by 100 lets it dominate a weighted sum, but not the normalized mean
    scaled = [{**g, "length": 100 * g["length"]} for g in group]
    assert combine_group_normalized(scaled, w) == pytest.approx(out)
    assert combine_weighted(scaled[1], w) > 50 * combine_weighted(scaled[0], w)
    # every component constant across the group: all zeros, no NaN
    assert combine_group_normalized([{"pairwise": 0.5, "length": 1.0, "format": 1.0}] * 4, w) == [0.0] * 4


def test_two_member_groups_normalize_to_plus_minus_sqrt_half() -> None:
    r = math.sqrt(0.5)  # two members: mean +- d over a sample std of d * sqrt(2)
    assert combine_group_normalized([{"length": 1.0}, {"length": 0.0}], {"length": 1.0}) == pytest.approx([r, -r])
    assert combine_group_normalized([{"length": 0.6}, {"length": 0.6}], {"length": 1.0}) == [0.0, 0.0]


def _judge_script(req):
    answer = answer_block(req.prompt, "B")  # position-disadvantage: the response is answer B
    verdict = {"strong": "VERDICT: B", "equal": "VERDICT: TIE", "weak": "VERDICT: A"}.get(answer.split()[0])
    return Reply(text=f"Reasoning.\n{verdict}" if verdict else "I cannot decide.")


def test_pairwise_reward_from_real_judgments(fast_settings: JudgeSettings, judge_server: FakeJudgeServer) -> None:
    judge_server.script = _judge_script
    judge = PairwiseJudge(fast_settings)

    async def run() -> list:
        return await asyncio.gather(*(judge.compare("Write a fable.", "The reference fable.", f"{k} fable text.")
                                      for k in ("strong", "equal", "weak", "garbled")))

    judgments = asyncio.run(run())
    assert [j.outcome for j in judgments] == ["win", "tie", "loss", "failed"]
    assert judgments[3].reason and judgments[0].strategy == "position-disadvantage"
    score = {"win": 1.0, "tie": 0.5, "loss": 0.0}  # the reward manager's default values; failed stays None
    values = [{"pairwise": score.get(j.outcome), "length": 1.0} for j in judgments]
    out = combine_group_normalized(values, {"pairwise": 1.0, "length": 1.0})
    assert out[3] is None and out[:3] == pytest.approx([0.5, 0.0, -0.5])


def test_config_from_env_and_errors() -> None:
    env = {"REWARD_COMPONENTS": "pairwise:1,length:1,format:0.5", "REWARD_MODE": "group-normalized",
           "REWARD_LAYOUT": "think-answer"}
    c = RewardConfig.from_env(env, length_falloff=0.3)
    assert c.components == {"pairwise": 1.0, "length": 1.0, "format": 0.5}
    assert (c.mode, c.layout, c.length_falloff) == ("group-normalized", "think-answer", 0.3)
    assert RewardConfig.from_env({}).components == {"pairwise": 1.0}
    assert RewardConfig(components={"length": 2}).components == {"length": 2.0}
    with pytest.raises(RewardConfigError, match="format reward needs REWARD_LAYOUT=think-answer"):
        RewardConfig.from_env({"REWARD_COMPONENTS": "format:1"})
    with pytest.raises(RewardConfigError, match="REWARD_MODE='grpo'"):
        RewardConfig.from_env({"REWARD_MODE": "grpo"})
    with pytest.raises(RewardConfigError, match="REWARD_LAYOUT='xml'"):
        RewardConfig.from_env({"REWARD_LAYOUT": "xml"})
    with pytest.raises(RewardConfigError, match=r"unknown reward setting\(s\) \['falloff'\]"):
        RewardConfig.from_env({}, falloff=0.3)
    with pytest.raises(RewardConfigError, match="falloff"):
        RewardConfig(length_falloff=0)
    with pytest.raises(RewardConfigError, match="free < cap"):
        RewardConfig(repetition_free=0.6)
    with pytest.raises(RewardConfigError, match="unknown reward component 'style'"):
        RewardConfig(components="style:1")


def _word(i: int) -> str:
    """A distinct all-letter word per integer (digits are not words under the LongBench count)."""
    return "".join(chr(97 + int(d)) for d in str(i)) + "x"


def test_local_scores_use_the_answer_part_only() -> None:
    c = RewardConfig(components="pairwise:1,length:1,format:0.5,repetition:0.5", layout="think-answer")
    plan = " ".join(_word(i) for i in range(500, 1000))  # a long plan must not count towards the length
    body = " ".join(_word(i) for i in range(100))
    good = f"<think>{plan}</think>\n<answer>{body}</answer>"
    s = local_scores(good, "Write about 100 words.", None, c)
    assert set(s) == {"length", "format", "repetition"}  # pairwise is left to the judge
    assert (s["length"].score, s["length"].details["words"]) == (1.0, 100)
    assert s["format"].score == 1.0 and s["repetition"].score == 1.0
    broken = f"<think>{plan}</think>\n{body}"
    s = local_scores(broken, "Write about 100 words.", None, c)
    assert {k: r.score for k, r in s.items()} == {"pairwise": 0.0, "length": 0.0, "format": 0.0, "repetition": 0.0}
    assert "</answer>" not in s["length"].details["reason"] and "<answer>" in s["format"].details["reason"]
    plain = local_scores(f"<think>{plan}</think>{body}", "Write about 100 words.", None,
                         RewardConfig(components="length:1"))
    assert plain["length"].details["words"] == 100
