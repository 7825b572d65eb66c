"""The main job's path (`make run`) on a smaller generated feed."""

# Every service as a real process, the feed through the ingest API, and the pipeline's export equal
# to `simulate`.

import json
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from subsidy.demo.generator import generate
from subsidy.demo.job import run_demo
from subsidy.domain.catalog import load_catalog
from subsidy.domain.simulate import simulate
from subsidy.harness.databases import drop_database
from subsidy.harness.platform import Run
from subsidy.harness.processes import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SAMPLE = Path(__file__).resolve().parents[2] / "data/sample-events.jsonl"


async def _main_job(feed: Path, tmp_path: Path, database_url: str) -> str:
    """The main job on `feed`, in a database of its own: what it printed, checked to say the
    pipeline matched simulate and the chain verified."""
    output = tmp_path / "console.txt"
    run = Run(database=f"subsidy_test_demo_{uuid.uuid4().hex[:8]}",
              ingest_address=f"127.0.0.1:{free_port()}", metrics_ports={})  # fmt: skip
    try:
        with output.open("w", encoding="utf-8") as out:
            ok = await run_demo(feed, load_catalog(), False, Console(file=out, width=120), run)
    finally:
        await drop_database(database_url, run.database)
    text = output.read_text("utf-8")
    assert ok, text
    assert "pipeline vs subsidy simulate: match" in text
    assert "ledger chain: verified" in text
    assert "granted, as the ledger holds" in text  # an enterprise's statement via the portal
    assert all(r.process.poll() is not None for r in run.services), "nothing is left running"
    return text


async def test_pipeline_matches_simulate_on_a_generated_feed(
    tmp_path: Path, kafka_bootstrap: str, database_url: str
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(generate(80, seed=2026)) + "\n", encoding="utf-8")
    text = await _main_job(feed, tmp_path, database_url)
    assert "0 repeats" in text  # every webhook arrived once, signed
    assert "sent webhook to enterprise" in text


def _corrected_enterprises_of_the_sample() -> list[str]:
    """The sample's lines of every enterprise that corrects or retracts something (refused
    attempts included: a correction without its reason, of an id never sent, a retraction of
    a retraction), in file order."""
    objects = []
    for line in SAMPLE.read_text("utf-8").splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            objects.append((line, value))
    fixing = {v.get("enterpriseId") for _, v in objects if "revision" in v or "eventRetracted" in v}
    return [line for line, v in objects if v.get("enterpriseId") in fixing]


async def test_corrections_and_retractions_through_the_ingest_api_equal_simulate(
    tmp_path: Path, kafka_bootstrap: str, database_url: str
) -> None:
    feed = tmp_path / "feed.jsonl"
    lines = _corrected_enterprises_of_the_sample()
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = simulate(lines, load_catalog()).to_contract()
    # The feed holds what the check is about: withdrawn certificates and each refusal.
    assert "RETRACTED" in {e["status"] for e in expected["entitlements"]}
    refused = " ".join(r["error"] for r in expected["rejectedEvents"])
    for error in ("更正须说明原因", "无可更正的原事件", "is itself a retraction"):
        assert error in refused
    await _main_job(feed, tmp_path, database_url)


# Moves the window, turns a referred rule into a paying one, raises a cap, tightens a year
# limit; with an effective date, the same as a version that starts in the middle of the window.
REFORM = """\
{effective}valid_to: 2028-12-31
rules:
  m06.enterprise_title: {{award: ceiling, ceiling_yuan: 300000}}
  m08.compute_voucher: {{annual_cap_yuan: 3000000}}
  m08.large_model_compute: {{max_years: 1}}
"""


@pytest.mark.parametrize("effective", ["", "effective_from: 2026-07-01\n"],
                         ids=["overlay", "version-from-2026-07-01"])  # fmt: skip
async def test_every_service_runs_the_overlay_and_the_export_equals_simulate(
    tmp_path: Path, kafka_bootstrap: str, database_url: str, effective: str
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(generate(60, seed=7)) + "\n", encoding="utf-8")
    overlay = tmp_path / "reform.yaml"
    overlay.write_text(REFORM.format(effective=effective), encoding="utf-8")
    catalog = load_catalog(overlay=overlay)
    assert len(catalog.timeline) == (2 if effective else 1)
    output = tmp_path / "console.txt"
    run = Run(database=f"subsidy_test_demo_{uuid.uuid4().hex[:8]}",
              ingest_address=f"127.0.0.1:{free_port()}", metrics_ports={},
              policy_overlay=overlay)  # fmt: skip
    try:
        with output.open("w", encoding="utf-8") as out:
            ok = await run_demo(feed, catalog, False, Console(file=out, width=120), run)
    finally:
        await drop_database(database_url, run.database)
    text = output.read_text("utf-8")
    assert ok, text
    assert "pipeline vs subsidy simulate: match" in text
    # The reform decides differently from the packaged policy on this feed (else the test
    # would prove nothing about which policy the services ran).
    baseline = simulate(feed.read_bytes().splitlines(), load_catalog()).to_contract()
    reformed = simulate(feed.read_bytes().splitlines(), catalog).to_contract()
    assert baseline["entitlements"] != reformed["entitlements"]
