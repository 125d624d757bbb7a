"""Repetition reward: padding with repeated paragraphs or sentences scores below an honest answer of the same length."""

from __future__ import annotations

import re

import pytest

from writing_rl.rewards import RewardConfigError, repetition_reward
from writing_rl.rewards.repetition import duplicated_paragraph_share, repeated_ngram_share, tokens
from writing_rl.textstats import count_words

# Written for this test.
ENGLISH = [
    "The lighthouse at Carrow Point was switched to automatic operation in the spring of 1987, and with that "
    "change the island lost its last permanent resident. Edda Marsh had tended the lamp for twenty-two years, "
    "first beside her husband and later alone, trimming wicks long after the wicks had been replaced by bulbs.",
    "Visitors who knew her only from the newspaper photograph expected someone stern. In person she laughed "
    "easily, kept a notebook of every ship she had seen pass, and argued with the weather forecast on the radio "
    "as if the announcer could hear her objections.",
    "Her routine never changed much. She rose before dawn, climbed the ninety-one steps to polish the lens, "
    "logged the wind direction, and walked the shingle beach to collect whatever the tide had carried in: rope, "
    "glass floats, once a child's boot that she kept on the windowsill for a decade.",
    "Winter was the real test. Storms cut the supply boat off for weeks at a time, and she learned to bake bread "
    "from flour stored in sealed tins, to ration paraffin, and to read by the sweep of the beam itself when the "
    "generator failed during the great gale of 1979.",
    "When the engineers arrived to install the automatic equipment, she showed them every quirk of the building: "
    "the door that swelled in wet weather, the cracked pane on the landing, the gull that nested each April above "
    "the fog signal. They wrote none of it down.",
    "She moved to the mainland and lived another fourteen years in a cottage facing the sea. Neighbours said she "
    "still woke before sunrise and looked west, checking that the light had come on, though nobody had asked her "
    "to watch it for a very long time.",
]
CHINESE = [
    "外婆家的院子里有一棵老枣树，据说是她出嫁那年种下的。每到八月，枝头挂满青红相间的果子，我们几个孩子就搬来竹竿，"
    "一边打枣一边比谁接得多，掉在地上的也不嫌脏，用衣角擦一擦就塞进嘴里。",
    "外婆不许我们爬树，说树枝脆，摔下来可不是闹着玩的。她自己却常常踩着小板凳，把够不着的枣子一颗颗摘下来，"
    "晒在屋顶的竹匾上。晒干的红枣装进陶罐，要留到过年时蒸糕用。",
    "后来我去城里读书，一年只回去两次。每次临走，外婆总要往我的背包里塞一袋枣，还反复叮嘱路上别饿着。"
    "那袋枣常常在宿舍里放到发软，同学们分着吃，都说比超市买的甜。",
    "前几年村里修路，院子的一角被划了出去，枣树正好在线上。施工队来量地那天，外婆一句话也没说，只是搬了把椅子"
    "坐在树下，从早坐到晚。最后路线往东挪了两米，树留了下来。",
    "如今外婆已经不在了，老屋也租给了一户做豆腐的人家。去年秋天我路过那里，看见枣树还在，比记忆中矮了一些，"
    "树下堆着几口大缸，空气里飘着豆浆的味道。",
    "我没有进去打扰，只在路边站了一会儿。一阵风吹过，几颗熟透的枣落在墙外的土路上，我捡起一颗，擦了擦，"
    "放进嘴里，还是当年那个味道。",
]


def _fit(units: list[str], target: int, sep: str) -> str:
    """Join ``units`` but cut the last one short so the text has ``target`` words (never more)."""
    out: list[str] = []
    for unit in units:
        have = count_words(sep.join(out + [unit]))
        if have <= target:
            out.append(unit)
            continue
        cut = next(i for i in range(len(unit) + 1) if count_words(sep.join(out + [unit[:i]])) >= target)
        out.append(unit[:cut])
        break
    return sep.join(out)


def _pad_with_paragraphs(paras: list[str], keep: int) -> str:
    """The first ``keep`` paragraphs, then copies of them (cycling) up to the honest length."""
    target = count_words("\n\n".join(paras))
    return _fit(paras[:keep] + [paras[i % keep] for i in range(2 * len(paras))], target, "\n\n")


def _pad_with_sentences(paras: list[str], keep: int) -> str:
    """The first ``keep`` paragraphs, then one paragraph stitched from their sentences in another order."""
    target = count_words("\n\n".join(paras))
    head = "\n\n".join(paras[:keep])
    sentences = [s.strip() for p in paras[:keep] for s in re.findall(r"[^.。]+[.。]", p)]
    shuffled = [sentences[(i * 3) % len(sentences)] for i in range(2 * len(sentences))]
    return head + "\n\n" + _fit(shuffled, target - count_words(head), " ")


def _same_length(a: str, b: str) -> None:
    na, nb = count_words(a), count_words(b)
    assert abs(na - nb) / na <= 0.05, (na, nb)


@pytest.mark.parametrize("paras", [ENGLISH, CHINESE], ids=["english", "chinese"])
@pytest.mark.parametrize("pad", [_pad_with_paragraphs, _pad_with_sentences], ids=["paragraphs", "sentences"])
def test_padded_answer_scores_below_honest_answer_of_the_same_length(paras, pad) -> None:
    honest = "\n\n".join(paras)
    padded = pad(paras, 4)
    _same_length(honest, padded)
    h, p = repetition_reward(honest), repetition_reward(padded)
    assert h.score == 1.0, h.details
    assert p.score < h.score - 0.2, p.details
    assert p.details["ngram_share"] > 0.2


def test_chinese_uses_character_ngrams() -> None:
    r = repetition_reward("\n".join(CHINESE))
    assert r.details["n"] == 8 and r.details["tokens"] == count_words("".join(CHINESE))
    assert repetition_reward("\n".join(ENGLISH)).details["n"] == 5


def test_duplicated_paragraphs_ignore_case_punctuation_and_short_lines() -> None:
    text = "\n".join([ENGLISH[0], "## Notes", ENGLISH[1], "## Notes", ENGLISH[0].upper().replace(",", "")])
    share = duplicated_paragraph_share(text, min_tokens=5)
    assert share == pytest.approx(len(tokens(ENGLISH[0])) / len(tokens(text)))
    r = repetition_reward(text)
    assert r.details["paragraph_share"] == pytest.approx(share, abs=1e-4)


def test_ngram_share_counts_each_repeated_token_once() -> None:
    toks = "a b c d e a b c d e".split()
    assert repeated_ngram_share(toks, 3) == pytest.approx(5 / 10)
    assert repeated_ngram_share(toks, 6) == 0.0
    assert repeated_ngram_share(["x"] * 10, 2) == pytest.approx(9 / 10)
    assert repeated_ngram_share(["x"], 2) == 0.0


def test_score_shape_between_free_and_cap() -> None:
    unique = [f"w{i}" for i in range(60)]
    for repeat, expected in [(0, 1.0), (20, 1 - (0.25 - 0.1) / 0.4), (60, 0.0)]:
        text = " ".join(unique + unique[:repeat])
        r = repetition_reward(text)
        assert r.score == pytest.approx(expected), (repeat, r.details)
    assert repetition_reward("Too short.").score == 1.0
    assert repetition_reward("").score == 1.0


@pytest.mark.parametrize(("kw", "needle"), [({"n": 0}, "n-gram"), ({"free": 0.5, "cap": 0.5}, "free < cap")])
def test_bad_settings_raise(kw: dict, needle: str) -> None:
    with pytest.raises(RewardConfigError, match=needle):
        repetition_reward("text", **kw)
