"""The shipped data/sample set: passes check, is rebuilt from its source, is original text, and verl can load it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq

from writing_rl.data import build_dataset, check_dataset, load_ground_truths, load_input_rows
from writing_rl.data.schema import has_cjk

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_sample_passes_check_and_meets_its_spec():
    assert check_dataset(SAMPLE) == []
    gts = list(load_ground_truths(SAMPLE).values()) + list(load_ground_truths(SAMPLE, "test").values())
    assert len(gts) >= 24 and len(load_ground_truths(SAMPLE, "test")) == 4
    assert sum(has_cjk(g["prompt"]) for g in gts) >= 6
    for g in gts:
        scores = g["reference_scores"]
        assert len(g["target"]) >= 3 and len(scores) == len(g["target"])
        assert all(a < b for a, b in zip(scores, scores[1:], strict=False)), g["prompt"]
        assert len(g["target"][0]) < len(g["target"][-1])  # the weakest reference is the short, generic one
    with_criteria = [json.loads(g["criteria"]) for g in gts if g["criteria"]]
    assert len(gts) // 3 <= len(with_criteria) <= 2 * len(gts) // 3
    assert all(3 <= len(c) <= 5 and all(isinstance(x, str) for x in c) for c in with_criteria)
    assert (SAMPLE / "sample.jsonl").stat().st_size < 400_000


def test_shipped_parquet_is_the_build_of_sample_jsonl(tmp_path):
    build_dataset(load_input_rows(SAMPLE / "sample.jsonl"), tmp_path, test_size=4)
    for split in ("train", "test"):
        assert pq.read_table(tmp_path / f"{split}.parquet").to_pylist() == \
            pq.read_table(SAMPLE / f"{split}.parquet").to_pylist(), f"rebuild data/sample/{split}.parquet"


def _shingles(text: str) -> set[str]:
    if has_cjk(text):
        t = re.sub(r"\s+", "", text)
        return {t[i:i + 12] for i in range(len(t) - 11)}
    w = re.findall(r"\w+", text.lower())
    return {" ".join(w[i:i + 8]) for i in range(len(w) - 7)}


def test_sample_shares_no_text_with_the_benchmarks(shared_data):
    bench: set[str] = set()
    for name, key in (("writingbench_length_dev.jsonl", "query"), ("longbench_write_en.jsonl", "prompt")):
        for line in (shared_data / name).read_text(encoding="utf-8").splitlines():
            bench |= _shingles(json.loads(line)[key])
    for row in load_input_rows(SAMPLE / "sample.jsonl"):
        for text in [row["prompt"], *row["references"]]:
            assert not (_shingles(text) & bench), text[:80]


def test_verl_reads_the_sample_with_its_own_dataset_class(tiny_tokenizer_dir, tmp_path):
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    cfg = OmegaConf.create({"max_prompt_length": 8192, "filter_overlong_prompts": True, "return_raw_chat": True,
                            "cache_dir": str(tmp_path)})
    ds = RLHFDataset(str(SAMPLE / "train.parquet"), tok, cfg)
    gts = load_ground_truths(SAMPLE)
    assert len(ds) == len(gts)
    item = ds[5]
    gt = item["reward_model"]["ground_truth"]
    assert item["reward_model"]["style"] == "model" and item["extra_info"]["index"] == gt["id"] == 5
    assert gt == gts[5] and isinstance(gt["target"], list)
    assert item["raw_prompt"][-1] == {"role": "user", "content": gt["prompt"]}
