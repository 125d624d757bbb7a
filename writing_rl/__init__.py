"""Writing-RL: reinforcement learning for long-form writing on verl.

The path of one training sample, file by file:
``data/build.py`` (parquet row) -> verl rollout -> ``reward_manager.py`` (judge the rollout)
-> ``judge/compare.py`` (one pairwise comparison) -> ``curriculum/state.py`` (Dynamic Reference
Scheduling, owned by ``curriculum/owner.py``).
"""

__version__ = "0.1.0"
