"""Writing-RL: reinforcement learning for long-form writing on verl.

The path of one training sample, in reading order: README, "Design notes: the path of one sample".
"""

__version__ = "0.1.0"
