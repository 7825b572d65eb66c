"""The simulated bank."""

# Deterministic, its return rate kept, a changed batch refused, and its return file accepted by
# read_return and the domain's check_return.

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from subsidy.domain.payouts.batches import Batch
from subsidy.domain.payouts.treasury import check_return
from subsidy.payouts.bank_simulator import RETURN_REASONS, BankRefused, simulate_bank
from subsidy.payouts.batch_files import Manifest
from subsidy.payouts.return_files import read_return
from tests.payouts.sample import many_lines, sample_batch, written


@pytest.fixture
def big(tmp_path: Path) -> tuple[Batch, Manifest, Path]:
    """A batch of 200 lines, written."""
    return written(tmp_path / "big", sample_batch(many_lines(200)))


def test_same_inputs_same_file(tmp_path: Path, big: tuple[Batch, Manifest, Path]) -> None:
    """The same batch, rate and seed give the same bytes (in another folder too); another seed
    another file."""
    batch, _, path = big
    _, _, other = written(tmp_path / "other", batch)
    first = simulate_bank(path, Decimal("0.3"), seed=7).read_bytes()
    assert simulate_bank(path, Decimal("0.3"), seed=7).read_bytes() == first
    assert simulate_bank(other, Decimal("0.3"), seed=7).read_bytes() == first
    assert simulate_bank(other, Decimal("0.3"), seed=8).read_bytes() != first


def test_the_return_rate_is_roughly_kept(big: tuple[Batch, Manifest, Path]) -> None:
    """R = 0.1 on 200 lines returns 5 to 40 of them, each with a bank's reason; R = 0 none;
    R = 1 all."""
    _, manifest, path = big
    for seed in range(5):
        _, _, lines = read_return(simulate_bank(path, Decimal("0.1"), seed), manifest)
        returned = [ln for ln in lines if not ln.paid]
        assert 5 <= len(returned) <= 40
        assert {ln.reason for ln in returned} <= set(RETURN_REASONS)
        assert all(ln.reason == "" for ln in lines if ln.paid)
    _, _, lines = read_return(simulate_bank(path, Decimal(0), 1), manifest)
    assert all(ln.paid for ln in lines)
    _, _, lines = read_return(simulate_bank(path, Decimal(1), 1), manifest)
    assert not any(ln.paid for ln in lines)
    assert {ln.reason for ln in lines} == set(RETURN_REASONS)  # 200 draws name all five


@pytest.mark.parametrize("rate", ["-0.01", "1.01", "NaN", "Infinity"])
def test_a_rate_outside_0_to_1_is_refused(big: tuple[Batch, Manifest, Path], rate: str) -> None:
    """The rate is a probability; no return file is written for another."""
    _, manifest, path = big
    with pytest.raises(BankRefused, match="return rate must be 0 to 1"):
        simulate_bank(path, Decimal(rate), seed=1)
    assert not (path.parent / f"{manifest.batch_id}.return.csv").exists()


def test_the_return_is_accepted(big: tuple[Batch, Manifest, Path]) -> None:
    """Its return file passes read_return and check_return: every line of the batch, once, in
    order, dated the day after the pay date unless a day is given."""
    batch, manifest, path = big
    out = simulate_bank(path, Decimal("0.25"), seed=3)
    assert out == path.parent / f"{batch.batch_id}.return.csv"
    bid, day, lines = read_return(out, manifest)
    assert (bid, day) == (batch.batch_id, date(2025, 3, 15))
    assert [ln.order_id for ln in lines] == [ln.order_id for ln in batch.lines]
    assert [ln.line for ln in lines] == list(range(2, 202))
    check_return(batch, lines)
    given = simulate_bank(path, Decimal("0.25"), seed=3, day=date(2025, 3, 20))
    assert read_return(given, manifest)[1] == date(2025, 3, 20)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_changed_batch_file_is_refused(big: tuple[Batch, Manifest, Path], suffix: str) -> None:
    """One byte of a data file changed after the manifest (an amount, say): refused."""
    batch, _, path = big
    data_file = path.parent / f"{batch.batch_id}{suffix}"
    data = bytearray(data_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    data_file.write_bytes(bytes(data))
    with pytest.raises(BankRefused, match="batch file changed since the manifest"):
        simulate_bank(path, Decimal("0.1"), seed=1)


def test_an_edited_csv_amount_is_refused(big: tuple[Batch, Manifest, Path]) -> None:
    """The first line's 1.37 made 1137.37, the CSV still well formed: refused."""
    batch, _, path = big
    data_file = path.parent / f"{batch.batch_id}.csv"
    data_file.write_bytes(data_file.read_bytes().replace(b",1.37,", b",1137.37,", 1))
    with pytest.raises(BankRefused, match="batch file changed"):
        simulate_bank(path, Decimal("0.1"), seed=1)


def test_a_missing_batch_file_is_refused(big: tuple[Batch, Manifest, Path]) -> None:
    """The XLSX gone: refused, naming it."""
    batch, _, path = big
    (path.parent / f"{batch.batch_id}.xlsx").unlink()
    with pytest.raises(BankRefused, match="batch file missing"):
        simulate_bank(path, Decimal("0.1"), seed=1)


def test_a_manifest_with_another_digest_is_refused(big: tuple[Batch, Manifest, Path]) -> None:
    """The manifest's batch digest edited (the files untouched): refused."""
    _, manifest, path = big
    path.write_text(path.read_text(encoding="utf-8").replace(manifest.sha256, "0" * 64),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(BankRefused, match="manifest digest wrong"):
        simulate_bank(path, Decimal("0.1"), seed=1)


def test_a_manifest_listing_other_files_is_refused(big: tuple[Batch, Manifest, Path]) -> None:
    """A manifest naming only the CSV (the XLSX entry dropped): refused."""
    batch, _, path = big
    body = json.loads(path.read_text(encoding="utf-8"))
    del body["files"][f"{batch.batch_id}.xlsx"]
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(BankRefused, match="manifest lists other files"):
        simulate_bank(path, Decimal("0.1"), seed=1)
