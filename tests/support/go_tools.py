"""The pinned Go tools (kustomize, kubeconform, grpcurl, buf), built by scripts/go_tools.sh."""

import functools
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "go_tools.sh"


@functools.cache
def tool_bin() -> Path:
    """Where the pinned tools are (built on first use)."""
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"scripts/go_tools.sh failed:\n{done.stderr}"
    return Path(done.stdout.strip().splitlines()[-1])
