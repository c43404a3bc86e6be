"""Errors a user can act on."""


class InputError(ValueError):
    """Bad input: the message names the file, the row/column and the fix."""

    def __init__(self, message: str, *, path: str | None = None, fix: str | None = None):
        parts = []
        if path:
            parts.append(f"{path}: ")
        parts.append(message)
        if fix:
            parts.append(f"\n  Fix: {fix}")
        super().__init__("".join(parts))
        self.path = path
        self.fix = fix
