"""verl plugin (entry point ``verl.plugins: writing_rl``), loaded by ``import verl`` in every process.

Registers the reward-loop manager ``parallel`` and, where verl's v1 trainer can be imported, the
trainer ``writing_rl`` (``trainer.v1.trainer_mode=writing_rl``). With ``VERL_PLATFORM=cpu`` (the
CPU training mode and its tests only) it first registers the CPU platform.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("writing_rl")

if os.environ.get("VERL_PLATFORM", "").strip().lower() == "cpu":
    try:
        from . import cpu_platform  # noqa: F401  (registers verl's "cpu" platform; never loaded on a GPU run)
    except Exception:  # verl skips a failing plugin with a debug log only: say it loudly
        log.exception("writing_rl: the CPU platform failed to load (VERL_PLATFORM=cpu)")
        raise

from . import reward_manager  # noqa: E402,F401  (registers "parallel")

LOADED = True

try:  # plugin loading, not a cycle dodge: optional because the v1 trainer needs TransferQueue & co.
    from . import trainer  # noqa: F401  (registers the "writing_rl" v1 trainer)

    TRAINER_REGISTERED = True
except ImportError as e:  # verl's v1 trainer needs TransferQueue & co. (installed with writing-rl)
    TRAINER_REGISTERED = False
    log.warning("the writing_rl trainer (trainer.v1.trainer_mode=writing_rl) is not available: %s", e)
