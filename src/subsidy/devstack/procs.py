"""Process and port helpers: pid files, liveness, stopping with a deadline, TCP probes."""

import contextlib
import os
import signal
import socket
import time
from pathlib import Path


def read_pid(pid_file: Path) -> int | None:
    """The pid written in pid_file, or None if there is none."""
    try:
        return int(pid_file.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def write_pid(pid_file: Path, pid: int) -> None:
    """Record pid in pid_file."""
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{pid}\n")


def _reap(pid: int) -> None:
    """Collect pid's exit status if it is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int, cmdline_contains: str | None = None) -> bool:
    """Whether pid runs (not a zombie) and, if given, its command line contains that text."""
    _reap(pid)
    proc = Path(f"/proc/{pid}")
    try:
        stat = (proc / "stat").read_text()
        cmdline = _cmdline(proc)
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state in ("Z", "X"):
        return False
    # An empty command line is one the kernel could not read just then, not another program.
    return cmdline_contains is None or not cmdline or cmdline_contains in cmdline


def _cmdline(proc: Path, attempts: int = 5) -> str:
    """The process's command line. The kernel gives an empty one while it cannot read the
    process's memory (a JVM busy mapping its heap as it recovers its logs), so an empty read is
    tried again before it is believed."""
    for attempt in range(attempts):
        raw = (proc / "cmdline").read_bytes()
        if raw or attempt == attempts - 1:
            return raw.replace(b"\0", b" ").decode(errors="replace")
        time.sleep(0.05)
    return ""


def live_pid(pid_file: Path, cmdline_contains: str) -> int | None:
    """The pid in pid_file if that process still runs and is the expected program."""
    pid = read_pid(pid_file)
    if pid is not None and is_alive(pid, cmdline_contains):
        return pid
    return None


def wait_exit(pid: int, timeout_s: float) -> bool:
    """Wait up to timeout_s for pid to exit; True if it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return not is_alive(pid)


def terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM pid and wait for it; SIGKILL it after timeout_s. True if it had to be killed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_exit(pid, timeout_s):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_exit(pid, 10)
    return True


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])
