"""Local secrets on disk: owner-only files written in one step, and JSON-kept secrets."""

import json
import os
from pathlib import Path


def read_secrets(path: Path) -> dict[str, str]:
    """The kept secrets by name; empty when the file does not exist."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text("utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def write_secrets(path: Path, values: dict[str, str]) -> None:
    """Keep values as JSON in path (0600)."""
    write_secret_file(path, json.dumps(values, indent=1))


def chown(path: Path, user: str | None) -> None:
    """Hand path to user (the local PostgreSQL's, when we run as root); None: leave it ours."""
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def write_secret_file(path: Path, data: str | bytes, owner: str | None = None) -> bool:
    """path holding data (text as UTF-8), mode 0600, owned by owner (None: by us); True if it
    had to be written. Written to a file created 0600 and renamed over path, so the secret is
    never readable by others nor half written; an unchanged file keeps its contents, but its
    mode and owner are set again (a loosened one is tightened)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path.is_file() and not path.is_symlink() and path.read_bytes() == raw:
        chown(path, owner)
        path.chmod(0o600)
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    chown(tmp, owner)
    tmp.replace(path)
    return True
