"""Build verl objects for tests: composed configs and ``DataProto`` trajectories with a real tokenizer."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from writing_rl.verl_config import compose

PROMPT_LEN, RESPONSE_LEN = 24, 192


def reward_overrides(tokenizer_dir: str, index_file: str, judge_url: str, **kw: Any) -> list[str]:
    """The overrides a Writing-RL run uses for its reward path (same keys as the launcher)."""
    out = [
        f"actor_rollout_ref.model.path={tokenizer_dir}",
        "reward.reward_manager.source=register",
        "reward.reward_manager.name=parallel",
        f"reward.num_workers={kw.pop('num_workers', 1)}",
        f"actor_rollout_ref.rollout.n={kw.pop('n', 1)}",
        "trainer.experiment_name=" + kw.pop("experiment", "test"),
        f"+reward.reward_kwargs.index_file={index_file}",
        f"+reward.reward_kwargs.judge.base_url={judge_url}",
        "+reward.reward_kwargs.judge.model=fake-judge",
        "+reward.reward_kwargs.judge.backoff_base_s=0.01",
        "+reward.reward_kwargs.judge.backoff_max_s=0.05",
        "+reward.reward_kwargs.judge.timeout_s=5",
    ]
    for k, v in kw.items():
        out.append(f"+reward.reward_kwargs.{k}={v}")
    return out


def compose_reward_config(*args: Any, extra: list[str] | None = None, **kw: Any):
    return compose(reward_overrides(*args, **kw) + list(extra or []))


def make_batch(tokenizer: Any, items: list[dict[str, Any]]) -> Any:
    """One trajectory per item: ``{"response", "gt", "step", "split", "uid"}`` -> a verl ``DataProto``."""
    from verl import DataProto

    b = len(items)
    prompts = torch.full((b, PROMPT_LEN), tokenizer.pad_token_id, dtype=torch.long)
    responses = torch.full((b, RESPONSE_LEN), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((b, PROMPT_LEN + RESPONSE_LEN), dtype=torch.long)
    for i, it in enumerate(items):
        p = tokenizer.encode(it["gt"]["prompt"], add_special_tokens=False)[-PROMPT_LEN:]
        r = tokenizer.encode(it["response"], add_special_tokens=False)
        assert len(r) <= RESPONSE_LEN, f"test response too long for the batch ({len(r)} tokens)"
        prompts[i, PROMPT_LEN - len(p):] = torch.tensor(p)
        mask[i, PROMPT_LEN - len(p):PROMPT_LEN] = 1
        if r:
            responses[i, : len(r)] = torch.tensor(r)
            mask[i, PROMPT_LEN: PROMPT_LEN + len(r)] = 1
    input_ids = torch.cat([prompts, responses], dim=1)
    position_ids = torch.clamp(torch.cumsum(mask, dim=1) - 1, min=0)

    def obj(values: list[Any]) -> np.ndarray:
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        return arr

    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": mask, "input_ids": input_ids,
                 "position_ids": position_ids},
        non_tensors={
            "data_source": obj(["writing_rl"] * b),
            "reward_model": obj([{"style": "model", "ground_truth": it["gt"]} for it in items]),
            "extra_info": obj([{"index": it["gt"].get("id"), "split": it.get("split", "train")} for it in items]),
            "uid": obj([it.get("uid", f"u{i}") for i, it in enumerate(items)]),
            "global_steps": obj([it.get("step", 1) for it in items]),
            "index": obj([it["gt"].get("id") for it in items]),
        },
    )


def gt(i: int, n_refs: int = 3, criteria: Any = None) -> dict[str, Any]:
    return {"prompt": f"Write about topic {i}.", "target": [f"REF{i}-L{k} text" for k in range(n_refs)],
            "criteria": criteria, "id": i}


def close_step(config: Any, step: int) -> dict[str, float]:
    """Close ``step`` on the owner the reward workers used, as the writing_rl trainer does ({} if none yet)."""
    from writing_rl.curriculum.owner import existing_owner
    from writing_rl.reward_manager import options_from_config
    from writing_rl.trainer import CurriculumDriver

    opts, _, _ = options_from_config(config)
    if existing_owner(opts.experiment) is None:
        return {}
    return CurriculumDriver(opts, None).close_step(step)
