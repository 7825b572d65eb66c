"""Generate the Python protobuf/gRPC/Connect code and type stubs from proto/ with pinned tools."""

# `python scripts/gen_proto.py OUT_DIR` writes into OUT_DIR (default: src/); the drift test runs it
# into a temporary directory and compares byte for byte with what is committed.

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"


def proto_files() -> list[str]:
    """Every .proto under proto/, relative to it, in a stable order."""
    return sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))


def generate(out: Path) -> None:
    """Run protoc (from grpcio-tools) with the Python, gRPC, mypy and Connect plugins (the
    HTTP/JSON clients and server interfaces of the same services)."""
    out.mkdir(parents=True, exist_ok=True)
    well_known = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        f"--connect-python_out={out}",
        *proto_files(),
    ]
    # protoc resolves the mypy and Connect plugins from PATH; they live beside this interpreter.
    import os

    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "src")
