"""verl plugin (entry point ``verl.plugins: writing_rl``), loaded by ``import verl`` in every process.

Registers the reward-loop manager ``parallel`` and, where verl's v1 trainer can be imported, the
trainer ``writing_rl`` (``trainer.v1.trainer_mode=writing_rl``).
"""

from __future__ import annotations

import logging

from . import reward_manager  # noqa: F401  (registers "parallel")

LOADED = True

try:
    from . import trainer  # noqa: F401  (registers the "writing_rl" v1 trainer)

    TRAINER_REGISTERED = True
except ImportError as e:  # verl's v1 trainer needs TransferQueue & co. (installed with writing-rl)
    TRAINER_REGISTERED = False
    logging.getLogger("writing_rl").warning(
        "the writing_rl trainer (trainer.v1.trainer_mode=writing_rl) is not available: %s", e
    )
