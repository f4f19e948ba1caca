"""One exception type for every mistake a user can make.

The CLI and the pages catch ``UserError`` and show its message as one line;
anything else is a bug and may show a traceback in a developer's terminal.
"""


class UserError(ValueError):
    """Bad input from a person: a spec, a dataset path, an upload, an argument."""
