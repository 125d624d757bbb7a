"""Format reward and answer extraction for the think-then-answer layout."""

from __future__ import annotations

import pytest

from writing_rl.rewards import RewardConfigError, answer_text, format_reward, split_think_answer

GOOD = "<think>\nPlan: three scenes, quiet ending.\n</think>\n\n<answer>\nThe harbour was empty at dawn.\n</answer>\n"


def test_well_formed_response_scores_one_and_yields_its_answer() -> None:
    r = format_reward(GOOD)
    assert r.score == 1.0 and r.details["answer_chars"] == len("The harbour was empty at dawn.")
    assert answer_text(GOOD, "think-answer") == "The harbour was empty at dawn."
    assert split_think_answer(GOOD) == ("Plan: three scenes, quiet ending.", "The harbour was empty at dawn.")
    assert format_reward("<think></think><answer>x</answer>").score == 1.0  # an empty plan is allowed


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("<answer>Only an answer.</answer>", "<think> occurs 0 times"),
        ("<think>plan</think>\nJust text, no answer tags.", "<answer> occurs 0 times"),
        ("<think>a</think><think>b</think><answer>x</answer>", "<think> occurs 2 times"),
        ("<think>p</think><answer>one</answer><answer>two</answer>", "<answer> occurs 2 times"),
        ("<think>p</think><answer>one</answer></answer>", "</answer> occurs 2 times"),
        ("<think>p<answer>x</answer></think>", "out of order"),
        ("<answer>x</answer><think>p</think>", "out of order"),
        ("Sure! <think>p</think><answer>x</answer>", "text before <think>"),
        ("<think>p</think> Here it is: <answer>x</answer>", "text between </think> and <answer>"),
        ("<think>p</think><answer>x</answer> Hope this helps.", "text after </answer>"),
        ("<think>p</think><answer>  \n </answer>", "empty <answer> block"),
        ("<THINK>p</THINK><answer>x</answer>", "<think> occurs 0 times"),
        ("", "<think> occurs 0 times"),
    ],
)
def test_broken_layouts_score_zero_with_the_reason(response: str, reason: str) -> None:
    r = format_reward(response)
    assert r.score == 0.0
    assert reason in r.details["reason"]
    assert answer_text(response, "think-answer") == ""


def test_split_is_lenient_about_surrounding_text_but_not_duplicates() -> None:
    assert split_think_answer("Sure! <think>p</think> ok <answer> x </answer>") == ("p", "x")
    assert split_think_answer("<think>a</think><think>b</think><answer>x</answer>") == (None, "x")
    assert split_think_answer("<answer>x</answer>") == (None, "x")
    assert split_think_answer("</answer>x<answer>") == (None, None)


def test_think_opened_in_the_prompt() -> None:
    response = "plan the piece\n</think>\n<answer>Text.</answer>"
    assert format_reward(response).score == 0.0
    assert format_reward(response, think_opened=True).score == 1.0
    assert answer_text(response, "think-answer", think_opened=True) == "Text."
    assert split_think_answer(response, think_opened=True) == ("plan the piece", "Text.")
    # a response that opens another think block still has two of them
    assert format_reward("<think>p</think><think>q</think><answer>x</answer>", think_opened=True).score == 0.0


def test_custom_tags() -> None:
    response = "<plan>outline</plan><final>Essay.</final>"
    assert format_reward(response, think_tag="plan", answer_tag="final").score == 1.0
    assert format_reward(response).score == 0.0
    assert answer_text(response, "think-answer", think_tag="plan", answer_tag="final") == "Essay."


@pytest.mark.parametrize(("think", "answer"), [("think", "think"), ("th ink", "answer"), ("", "answer"), ("a", "<b>")])
def test_bad_tag_names_raise(think: str, answer: str) -> None:
    with pytest.raises(RewardConfigError, match="tag"):
        format_reward(GOOD, think_tag=think, answer_tag=answer)


def test_plain_layout_uses_the_judges_reasoning_rules() -> None:
    assert answer_text("  Just the essay.  ") == "Just the essay."
    assert answer_text("<think>hidden plan</think>The essay.") == "The essay."
    assert answer_text("reasoning opened in the prompt</think>The essay.") == "The essay."
    assert answer_text("Intro.<think>never closed") == "Intro."
    with pytest.raises(RewardConfigError, match="unknown response layout 'xml'"):
        answer_text(GOOD, "xml")
