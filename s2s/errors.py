"""The exceptions the command line turns into messages instead of tracebacks.

`UserError` (a user's mistake: bad file, option or config value) becomes a one-line
message and exit status 1; `Interrupted` (a command stopped by a signal after saving
its work) a message and 128 + the signal number. Anything else that escapes is a bug
and may crash with a traceback.
"""


class UserError(Exception):
    """A mistake the user can fix; the message names the file, line, option or key."""


class Interrupted(Exception):
    """A command stopped by a signal after saving what it had; the message says how to go on."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
