"""The one exception type for problems a user can fix; the CLI turns it into exit status 2."""
from __future__ import annotations


class CompleakError(Exception):
    """A user-facing error: one line that names the bad value and how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
