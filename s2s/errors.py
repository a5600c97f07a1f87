"""The one exception type for a user's mistake (bad file, option or config value).

The command line turns it into a one-line message and exit status 1; anything else
that escapes is a bug and may crash with a traceback.
"""


class UserError(Exception):
    """A mistake the user can fix; the message names the file, line, option or key."""
