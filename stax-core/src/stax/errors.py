"""Errors that reach the user as one plain sentence.

Every failure stax expects (bad input, missing privileges, corrupt files) is raised
as a :class:`StaxError` whose message names the problem and the fix; the CLI prints
that sentence and exits non-zero, never a traceback.
"""


class StaxError(Exception):
    """A failure the user can fix; ``str(err)`` is the one sentence shown to them."""

    exit_code: int = 1


class UsageError(StaxError):
    """The command line asked for something impossible (a missing command, a bad pid)."""

    exit_code = 2


class RecordingFormatError(StaxError):
    """A .stax file is corrupt, truncated, or of a schema this stax cannot read."""


class RecordingWriteError(StaxError):
    """Writing a .stax file failed (the disk is full); the sentence says what the file keeps."""


class CaptureError(StaxError):
    """The capture backend could not start or continue recording."""
