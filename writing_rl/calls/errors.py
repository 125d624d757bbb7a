"""The error of the model-calling stack: unusable input, named with its place and how to fix it."""

from __future__ import annotations

from ..errors import WritingRLError


class InputError(WritingRLError):
    """Unusable input (file, row, setting or option); the message names the place and the fix."""
