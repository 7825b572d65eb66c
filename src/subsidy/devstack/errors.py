"""The one error the devstack raises: its message tells the developer what to do."""


class DevstackError(Exception):
    """Something the developer must fix (a missing tool, a busy port, a failed start)."""
