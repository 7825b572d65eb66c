"""The eligibility message handler without Kafka, plus the service's settings and its CLI."""

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from pydantic import ValidationError
from typer.testing import CliRunner

from subsidy.cli.main import app as cli
from subsidy.decisions.v1 import decisions_pb2
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.domain.events import parse_event
from subsidy.eligibility import handler as handler_module
from subsidy.eligibility import worker as worker_module
from subsidy.eligibility.handler import (
    INTERNAL_ERROR,
    INVALID_EVENT,
    NO_VALUE,
    Incoming,
    OutgoingRecord,
    handle_message,
)
from subsidy.eligibility.metrics import REGISTRY, observe
from subsidy.eligibility.settings import EligibilitySettings
from subsidy.events.v1 import events_pb2
from tests.factories import ENTERPRISE, event
from tests.support.records import PLAIN_FRAMERS

IN, OUT, DLQ = "enterprise-events.v1", "entitlements.v1", "dead-letters.v1"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _bytes(data: dict[str, Any]) -> bytes:
    """An event dict in the contract's JSON shape as Kafka bytes (protobuf), unvalidated."""
    return json_format.ParseDict(data, events_pb2.EnterpriseEvent()).SerializeToString()


def _handle(value: bytes | None, catalog: Catalog, key: bytes | None = b"k") -> OutgoingRecord:
    message = Incoming(topic=IN, partition=4, offset=1234, key=key, value=value)
    return handle_message(
        message, catalog, output_topic=OUT, dead_letter_topic=DLQ, framers=PLAIN_FRAMERS
    )


def _evaluation(outcome: OutgoingRecord) -> decisions_pb2.Evaluation:
    assert outcome.topic == OUT, outcome.rejection
    return decisions_pb2.Evaluation.FromString(outcome.value)


def _dead_letter(outcome: OutgoingRecord) -> events_pb2.DeadLetter:
    assert outcome.topic == DLQ
    return events_pb2.DeadLetter.FromString(outcome.value)


LAB = {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-1", "certificateId": "C-1"}
# tests.factories.event's enterpriseName is the account name.
PAYEE = {"bankName": "中国建设银行苏州分行", "accountNumber": "3220198765432101234",
         "accountName": "苏州测试机器人有限公司"}  # fmt: skip


def test_good_event_becomes_an_evaluation_keyed_by_enterprise(catalog: Catalog) -> None:
    data = event("certificationObtained", LAB, eventId="ev-lab")
    outcome = _handle(_bytes(data), catalog, key=b"whatever-the-producer-used")

    assert outcome.record[:2] == (OUT, ENTERPRISE.encode())
    ev = _evaluation(outcome)
    assert [e.entitlement_id for e in ev.entitlements] == ["ev-lab/m03.municipal_key_lab"]
    ent = ev.entitlements[0]
    assert ent.entitled_fen == 100_000_000  # 最高100万元
    assert ent.status == decisions_pb2.ELIGIBLE
    assert ent.enterprise_id == ENTERPRISE
    assert ent.item_id == "lab-1"
    assert ent.year == 2025
    assert ent.catalog_version == catalog.version == ev.catalog_version
    assert "市科技局" in ent.funding_channels
    steps = {t.key: t for t in ent.trace}
    assert steps["entitled"].label_zh == "本规则应享金额"
    assert steps["entitled"].value == "¥1,000,000.00"
    assert ev.event.event_id == "ev-lab"
    assert ev.event_hash == parse_event(data).content_hash()
    assert outcome.payload_type == "certificationObtained"
    assert outcome.rule_ids == ("m03.municipal_key_lab",)


def test_one_event_can_trigger_several_rules(catalog: Catalog) -> None:
    invoice = {
        "itemId": "inv-1",
        "amountFen": 10_000_000,
        "modelParamsBillions": 20,
        "applicationScenarios": 5,
    }
    ev = _evaluation(
        _handle(_bytes(event("computeInvoiceFiled", invoice, eventId="ev-c")), catalog)
    )
    amounts = {e.entitlement_id: e.entitled_fen for e in ev.entitlements}
    assert amounts == {
        "ev-c/m08.compute_voucher": 2_000_000,  # 20%
        "ev-c/m08.large_model_compute": 5_000_000,  # 50%
    }


@pytest.mark.parametrize(
    ("payload_type", "payload"),
    [
        ("reviewDecided", {"eventRef": "ev-0", "ruleId": "m06.exhibition", "approved": False}),
        (
            "reviewDecided",
            {
                "eventRef": "ev-0",
                "ruleId": "m06.exhibition",
                "approved": True,
                "approvedAmountFen": 150_000_000,
            },
        ),
        ("certificationRevoked", {"itemId": "lab-1", "reason": "撤销"}),
        ("otherSupportReceived", {"itemId": "lab-1", "program": "省级", "amountFen": 5_000}),
        ("payeeAccountRegistered", PAYEE),
        ("objectionFiled", {"eventRef": "ev-0", "ruleId": "m06.exhibition", "reason": "异议"}),
        ("eventRetracted", {"eventRef": "ev-0", "reason": "证书信息重复报送"}),
    ],
)
def test_ledger_payloads_are_forwarded_with_no_entitlements(
    catalog: Catalog, payload_type: str, payload: dict[str, Any]
) -> None:
    outcome = _handle(_bytes(event(payload_type, payload, eventId="ev-l")), catalog)
    assert outcome.key == ENTERPRISE.encode()
    ev = _evaluation(outcome)
    assert list(ev.entitlements) == []
    assert ev.event.event_id == "ev-l"
    assert (
        json_format.MessageToDict(ev.event)[payload_type]
        == json_format.MessageToDict(
            json_format.ParseDict({payload_type: payload}, events_pb2.EnterpriseEvent())
        )[payload_type]
    )
    assert outcome.payload_type == payload_type


def test_garbage_bytes_go_to_the_dead_letter_topic(catalog: Catalog) -> None:
    garbage = b"\xff\x00not a protobuf\x07"
    outcome = _handle(garbage, catalog, key=b"k-1")

    assert outcome.key == b"k-1"
    letter = _dead_letter(outcome)
    assert letter.stage == "eligibility"
    assert (letter.topic, letter.partition, letter.offset) == (IN, 4, 1234)
    assert letter.key == b"k-1"
    assert letter.value == garbage
    assert [f.field for f in letter.field_errors] == ["event"]
    assert "undecodable protobuf" in letter.error
    assert letter.event_id == ""
    assert outcome.rejection is not None
    assert outcome.rejection.reason == INVALID_EVENT


def test_a_bad_field_is_named_and_the_event_id_kept(catalog: Catalog) -> None:
    bad_check = ENTERPRISE[:-1] + ("4" if ENTERPRISE[-1] != "4" else "5")
    data = event(
        "certificationObtained",
        {"itemId": "lab-1", "certificateId": "C-1"},
        eventId="ev-bad",
        enterpriseId=bad_check,
    )
    original = _bytes(data)
    letter = _dead_letter(_handle(original, catalog))

    fields = sorted(f.field for f in letter.field_errors)
    # kind is missing (proto3 leaves out an unset enum); the check character does not verify.
    assert fields == ["certificationObtained.kind", "enterpriseId"]
    assert "统一社会信用代码" in {f.field: f.message for f in letter.field_errors}["enterpriseId"]
    assert letter.event_id == "ev-bad"
    assert letter.value == original
    assert "enterpriseId" in letter.error


def test_a_payee_account_in_another_name_is_set_aside_naming_the_field(catalog: Catalog) -> None:
    data = event("payeeAccountRegistered", {**PAYEE, "accountName": "苏州别家有限公司"},
                 eventId="ev-payee")  # fmt: skip
    letter = _dead_letter(_handle(_bytes(data), catalog))
    assert [(f.field, f.message[:10]) for f in letter.field_errors] == [
        ("payeeAccountRegistered.accountName", "户名与企业名称不一致")
    ]
    assert letter.event_id == "ev-payee"


def test_a_tombstone_is_set_aside(catalog: Catalog) -> None:
    outcome = _handle(None, catalog, key=None)
    letter = _dead_letter(outcome)
    assert outcome.key is None
    assert letter.value == b""
    assert [f.field for f in letter.field_errors] == ["event"]
    assert outcome.rejection is not None
    assert outcome.rejection.reason == NO_VALUE


def test_an_evaluation_bug_sets_the_event_aside_instead_of_stopping(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler_module, "evaluate", broken)
    letter = _dead_letter(
        _handle(_bytes(event("certificationObtained", LAB, eventId="ev-x")), catalog)
    )
    assert letter.event_id == "ev-x"
    assert "boom" in letter.error


def test_any_decode_failure_is_a_dead_letter(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unexpected(_: bytes) -> None:
        raise RecursionError("nested too deep")

    monkeypatch.setattr(handler_module, "decode_event", unexpected)
    letter = _dead_letter(_handle(b"\x0a\x01x", catalog))
    assert [f.field for f in letter.field_errors] == ["event"]
    assert "nested too deep" in letter.error


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_payloads_rules_and_rejected_fields(catalog: Catalog) -> None:
    before = (
        _sample("subsidy_eligibility_events_consumed_total", payload_type="certificationObtained"),
        _sample("subsidy_eligibility_entitlements_total", rule_id="m03.municipal_key_lab"),
        _sample("subsidy_eligibility_rejections_total", reason=INVALID_EVENT, field="enterpriseId"),
        _sample("subsidy_eligibility_events_consumed_total", payload_type="invalid"),
    )
    observe(_handle(_bytes(event("certificationObtained", LAB)), catalog))
    observe(_handle(_bytes(event("certificationObtained", LAB, enterpriseId="bad")), catalog))
    after = (
        _sample("subsidy_eligibility_events_consumed_total", payload_type="certificationObtained"),
        _sample("subsidy_eligibility_entitlements_total", rule_id="m03.municipal_key_lab"),
        _sample("subsidy_eligibility_rejections_total", reason=INVALID_EVENT, field="enterpriseId"),
        _sample("subsidy_eligibility_events_consumed_total", payload_type="invalid"),
    )
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1, 1]
    assert INTERNAL_ERROR != INVALID_EVENT  # distinct labels


# --- settings ------------------------------------------------------------------------------


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INPUT_TOPIC", "OUTPUT_TOPIC", "DEAD_LETTER_TOPIC", "GRPC_ADDRESS"):
        monkeypatch.delenv(f"ELIGIBILITY_{name}", raising=False)
    defaults = EligibilitySettings()  # type: ignore[call-arg]
    assert (defaults.input_topic, defaults.output_topic, defaults.dead_letter_topic) == (
        IN,
        OUT,
        DLQ,
    )
    assert defaults.grpc_address == "127.0.0.1:50061"
    monkeypatch.setenv("ELIGIBILITY_OUTPUT_TOPIC", "entitlements.test")
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "h1:9092, h2:9093")
    s = EligibilitySettings()  # type: ignore[call-arg]
    assert s.output_topic == "entitlements.test"
    assert s.kafka.faust()["broker"] == ["kafka://h1:9092", "kafka://h2:9093"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grpc_address", "no-port"),
        ("grpc_address", "127.0.0.1:70000"),
        ("input_topic", "has space"),
        ("output_topic", IN),  # the same as the input topic
        ("group_id", ""),
        ("policy_overlay", "/nonexistent/overlay.yaml"),
        ("shutdown_timeout", 0),
        ("metrics_port", -1),
    ],
)
def test_settings_fail_fast(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        EligibilitySettings.model_validate({field: value})


# --- CLI -----------------------------------------------------------------------------------


def _jsonl(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_evaluate_prints_entitlements_with_traces(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [json.dumps(event("certificationObtained", LAB, eventId="ev-1")), ""])
    result = CliRunner().invoke(cli, ["eligibility", "evaluate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["rejectedEvents"] == []
    [ev] = doc["evaluations"]
    [ent] = ev["entitlements"]
    assert (ent["entitlementId"], ent["entitledFen"]) == ("ev-1/m03.municipal_key_lab", 100_000_000)
    assert {"labelZh": "最高额度", "labelEn": "ceiling"}.items() <= ent["trace"][3].items()


def test_cli_evaluate_says_a_payee_account_is_only_recorded(tmp_path: Path) -> None:
    lines = [
        json.dumps(event("payeeAccountRegistered", PAYEE, eventId="ev-p"), ensure_ascii=False),
        json.dumps(event("certificationRevoked", {"itemId": "l", "reason": "撤销"})),
    ]
    path = _jsonl(tmp_path, lines)
    result = CliRunner().invoke(cli, ["eligibility", "evaluate", str(path), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("recorded by the ledger for the payouts") == 1
    assert result.stdout.count("changes existing entitlements") == 1


def test_cli_evaluate_names_the_bad_field_and_fails(tmp_path: Path) -> None:
    bad = event("certificationObtained", {**LAB, "kind": "NOPE"}, eventId="ev-2")
    path = _jsonl(tmp_path, [json.dumps(event("certificationObtained", LAB)), json.dumps(bad)])
    result = CliRunner().invoke(cli, ["eligibility", "evaluate", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "line 2: REJECTED event ev-2" in result.stdout
    assert "certificationObtained.kind:" in result.stdout
    assert "ceiling: ¥1,000,000.00" in result.stdout
    result = CliRunner().invoke(cli, ["eligibility", "evaluate", str(path)])  # zh, the default
    assert "第 2 行：拒收事件 ev-2" in result.stdout
    assert "最高额度: ¥1,000,000.00" in result.stdout


def test_cli_evaluate_applies_a_policy_overlay(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("rules:\n  m03.municipal_key_lab:\n    ceiling_yuan: 500000\n")
    path = _jsonl(tmp_path, [json.dumps(event("certificationObtained", LAB))])
    result = CliRunner().invoke(
        cli, ["eligibility", "evaluate", str(path), "--policy-overlay", str(overlay),
              "--format", "json"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [ev] = json.loads(result.stdout)["evaluations"]
    assert ev["entitlements"][0]["entitledFen"] == 50_000_000


# ---- the worker's window of in-flight publishes -----------------------------------------


class _FakeProducer:
    """Records sends; their acknowledgements are resolved by the test (or at once, `auto`)."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.acks: list[asyncio.Future[Any]] = []
        self.auto = False

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> Any:
        self.sent.append(value)
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.auto:
            ack.set_result(None)
        self.acks.append(ack)
        return ack


async def test_a_failed_publish_in_the_window_is_resent_with_all_after_it_in_order(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_wait = dataclasses.replace(worker_module.PUBLISH_RETRY, first_s=0, max_s=0, jitter_s=0)
    monkeypatch.setattr(worker_module, "PUBLISH_RETRY", no_wait)
    outcomes = [_handle(_bytes(event("certificationObtained", LAB, eventId=f"w-{i}")), catalog)
                for i in range(6)]  # fmt: skip
    producer, acked = _FakeProducer(), []

    async def ack(ev: Any) -> None:
        acked.append(ev)

    window = worker_module._Window(producer, ack, 10)
    await window.submit([(i, outcomes[i]) for i in range(5)], 0.0)  # type: ignore[misc]
    assert acked == []  # nothing acknowledged yet

    producer.acks[0].set_result(None)
    producer.acks[1].set_exception(RuntimeError("broker said no"))
    for late in producer.acks[2:]:
        late.set_result(None)  # e.g. other partitions
    producer.auto = True
    await window.submit([(5, outcomes[5])], 0.0)  # type: ignore[list-item]

    assert acked == [0, 1, 2, 3, 4, 5]
    values = [o.value for o in outcomes]
    assert producer.sent == values + values[1:]  # the failed one and everything after, again
