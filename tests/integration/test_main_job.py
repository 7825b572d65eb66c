"""The main job's path (`make run`) on a smaller generated feed: every service as a real
process, the feed through the ingest API, and the pipeline's export equal to `simulate`."""

import socket
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from subsidy.demo.generator import generate
from subsidy.demo.runner import Run, run_demo
from subsidy.domain.catalog import load_catalog
from subsidy.infra.scratch_db import drop_database

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_pipeline_matches_simulate_on_a_generated_feed(
    tmp_path: Path, kafka_bootstrap: str, database_url: str
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(generate(80, seed=2026)) + "\n", encoding="utf-8")
    output = tmp_path / "console.txt"
    run = Run(database=f"subsidy_test_demo_{uuid.uuid4().hex[:8]}",
              ingest_address=f"127.0.0.1:{_free_port()}", metrics_ports={})  # fmt: skip
    try:
        with output.open("w", encoding="utf-8") as out:
            ok = await run_demo(feed, load_catalog(), False, Console(file=out, width=120), run)
    finally:
        await drop_database(database_url, run.database)
    text = output.read_text("utf-8")
    assert ok, text
    assert "pipeline vs subsidy simulate: match" in text
    assert "ledger chain: verified" in text
    assert "0 repeats" in text  # every webhook arrived once, signed
    assert "sent webhook to enterprise" in text
    assert all(r.process.poll() is not None for r in run.services), "nothing is left running"
