"""Generated local secrets kept as one JSON object in a file only this user may read."""

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


def write_secret_file(path: Path, text: str) -> None:
    """Replace path in one step, created 0600 so the secret in it is never readable by others;
    an unchanged file is left alone."""
    if path.is_file() and path.read_text("utf-8") == text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)
