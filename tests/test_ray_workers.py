"""Many reward workers on a local two-node Ray cluster, through verl's own RewardLoopManager.

Four ``RewardLoopWorker`` actors (spread over both nodes by verl) judge the same samples at once;
the curriculum has one owner, a named actor pinned to the head node, which writes the index file.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict

import pytest

from writing_rl.curriculum.index_file import create_index
from writing_rl.testing.fake_judge import FakeJudgeServer, Reply, answer_block

from .verl_helpers import compose_reward_config, gt, make_batch

N_SAMPLES, N_ROLLOUTS, STEPS = 8, 8, 3


def wins_for(step: int, sid: int, k: int) -> bool:
    """Scripted: sample sid wins with rollout k at `step` when this deterministic rule says so."""
    return (sid + step) % 3 != 0 and k == (sid * step) % N_ROLLOUTS


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    os.environ["OPENAI_API_KEY"] = "sk-test-ray-000000000000000000000"
    os.environ["RAY_DEDUP_LOGS"] = "0"
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "include_dashboard": False})
    c.add_node(num_cpus=2)
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def test_four_workers_on_two_nodes_share_one_curriculum_owner(cluster, tmp_path, tiny_tokenizer_dir):
    import ray
    from transformers import AutoTokenizer
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager

    from writing_rl.curriculum.owner import HEAD_NODE_RESOURCE, actor_name

    def script(req):
        m = re.search(r"response (\d+)-(\d+)-(\d+) (good|meh)", answer_block(req.prompt, "B"))
        return Reply(text="VERDICT: B" if m and m.group(4) == "good" else "VERDICT: A", delay_s=0.01)

    tok = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    index = tmp_path / "head" / "running_file" / "index_ray.json"
    create_index(index, range(N_SAMPLES))
    with FakeJudgeServer(script) as srv:
        cfg = compose_reward_config(tiny_tokenizer_dir, str(index), srv.base_url, num_workers=4, n=N_ROLLOUTS,
                                    experiment="ray")
        manager = RewardLoopManager(cfg)
        assert manager.reward_manager_cls.__name__ == "PairwiseJudgeRewardManager"
        nodes = {ray.get(w.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()))
                 for w in manager.reward_loop_workers}
        assert len(nodes) == 2  # verl spread the workers over both nodes

        expected = {str(i): 0 for i in range(N_SAMPLES)}
        for step in range(1, STEPS + 1):
            before = srv.count
            items = [
                {"response": f"response {sid}-{k}-{step} {'good' if wins_for(step, sid, k) else 'meh'}",
                 "gt": gt(sid), "step": step, "uid": f"{step}-{sid}"}
                for sid in range(N_SAMPLES) for k in range(N_ROLLOUTS)
            ]
            out = manager.compute_rm_score(make_batch(tok, items))
            assert out.batch["rm_scores"].sum(dim=1).tolist() == [
                1.0 if "good" in it["response"] else 0.0 for it in items
            ]
            judged = defaultdict(set)
            for r in srv.records[before:]:
                sid, lvl = map(int, re.search(r"REF(\d+)-L(\d+)", r.prompt).groups())
                judged[sid].add(lvl)
            assert all(judged[sid] == {expected[str(sid)]} for sid in range(N_SAMPLES)), judged
            for sid in range(N_SAMPLES):
                if any(wins_for(step, sid, k) for k in range(N_ROLLOUTS)):
                    expected[str(sid)] = min(expected[str(sid)] + 1, 2)
            ray.get(ray.get_actor(actor_name("ray")).finalize.remote(step))  # the trainer closes each step
        owner = ray.get_actor(actor_name("ray"))
        assert json.loads(index.read_text()) == expected
        assert srv.count == N_SAMPLES * N_ROLLOUTS * STEPS  # no judgment lost or repeated

        # one answer-tag code per reference across all workers, both nodes and every step (a cacheable
        # prefix), and the driver of the same Ray job derives the same codes: one secret per run
        codes = defaultdict(set)
        for r in srv.records:
            codes[re.search(r"REF(\d+-L\d+)", r.prompt).group(1)] |= set(re.findall(r"<<<ANSWER [AB] (\w+)>>>",
                                                                                   r.prompt))
        assert all(len(c) == 1 for c in codes.values()) and len({c for s in codes.values() for c in s}) == len(codes)
        from writing_rl.judge.tagcode import tag_code

        mine = tag_code("template", "reference")
        theirs = {ray.get(w.__ray_call__.remote(lambda self: __import__("writing_rl.judge.tagcode").judge.tagcode
                                                .tag_code("template", "reference")))
                  for w in manager.reward_loop_workers}
        assert theirs == {mine}

        head = next(n for n in ray.nodes() if HEAD_NODE_RESOURCE in n["Resources"])
        owner_node = ray.get(owner.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()))
        assert owner_node == head["NodeID"]
        assert ray.get(owner.ready.remote())["index_file"] == str(index)


def test_a_new_ray_job_draws_a_new_tag_secret(cluster):
    """A resumed run is a new Ray job: it gets a new secret (never stored in files or checkpoints)."""
    import ray

    from writing_rl.judge.tagcode import tag_code

    before = tag_code("template", "reference")
    ray.shutdown()
    ray.init(address=cluster.address, log_to_driver=False)
    assert tag_code("template", "reference") != before
    remote = ray.remote(lambda: __import__("writing_rl.judge.tagcode").judge.tagcode.tag_code("template", "reference"))
    assert ray.get(remote.remote()) == tag_code("template", "reference")


def test_judge_settings_reach_workers_on_both_nodes_from_the_config(cluster, tmp_path, tiny_tokenizer_dir):
    """The nodes were started with no JUDGE_* variables: every worker's judge comes from the config alone."""
    import ray
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager

    from writing_rl.judge import JudgeSettings

    index = tmp_path / "running_file" / "index_ray_settings.json"
    create_index(index, range(2))
    launched = JudgeSettings.from_env({"JUDGE_MODEL": "fake-judge", "JUDGE_RPM": "800", "JUDGE_TIMEOUT": "33",
                                       "JUDGE_MAX_TOKENS": "700", "JUDGE_POOL_COOLDOWN": "4.5",
                                       "JUDGE_BASE_URL": "http://127.0.0.1:9/v1#4,http://127.0.0.1:10/v1#4"})
    overrides = launched.hydra_overrides(prefix="++reward.reward_kwargs.judge.")  # over the helper's test values
    cfg = compose_reward_config(tiny_tokenizer_dir, str(index), f"'{launched.base_url}'", num_workers=4,
                                experiment="ray_settings", extra=overrides)
    for name in ray.util.list_named_actors():  # verl names its workers; free the names an earlier manager holds
        if name.startswith("reward_loop_worker_"):
            ray.kill(ray.get_actor(name))
    manager = RewardLoopManager(cfg)

    def seen(self):
        import os

        from writing_rl.judge.pool import PoolBackend

        s = self.reward_manager.settings  # what this worker's judge client is built from
        return (ray.get_runtime_context().get_node_id(), s.rpm, s.timeout_s, s.max_tokens,
                PoolBackend(s).cooldown_s, "JUDGE_RPM" in os.environ)

    found = ray.get([w.__ray_call__.remote(seen) for w in manager.reward_loop_workers])
    assert len({f[0] for f in found}) == 2  # workers on both nodes
    assert {f[1:] for f in found} == {(200.0, 33.0, 700, 4.5, False)}  # rpm 800 split over 4 workers

