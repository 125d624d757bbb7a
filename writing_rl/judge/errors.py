"""Exceptions raised by the judge: configuration mistakes raise, transient faults do not."""

from ..errors import WritingRLError


class JudgeError(WritingRLError):
    """Base class for judge errors."""


class JudgeConfigError(JudgeError):
    """A setting is wrong (missing key, rejected key, unknown model, bad request).

    Retrying cannot help; the message names the setting to fix.
    """


class JudgeInputError(JudgeError):
    """The text handed to the judge is unusable (empty, not UTF-8, wrong type).

    ``field`` names the input at fault (``question``, ``reference``, ``response`` or ``criteria``), so
    that callers tell the cases apart without reading the message.
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class TemplateError(JudgeError):
    """A judge prompt template is malformed; the message names the file and the problem."""


class MissingFileError(TemplateError, FileNotFoundError):
    """A prompt or text file the judge needs does not exist; the message names it."""
