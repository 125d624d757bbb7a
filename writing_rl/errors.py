"""The common base of errors meant for the user: one line naming the file, row or setting, no traceback."""


class WritingRLError(Exception):
    """A mistake in input or settings; the message says what is wrong and how to fix it."""
