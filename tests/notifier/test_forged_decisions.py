"""Red team: decisions forged on decisions.v1 are dead-lettered, never delivered."""

# Someone with write access to decisions.v1 (but not the ledger's key) publishes a decision.
# Unsigned, signed by another key under the ledger's key id, or a genuine decision with its amount
# raised after signing: each is dead-lettered with the reason and counted, and no webhook or mail
# goes out for it; the genuine decision behind them is delivered.

from pathlib import Path

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import Catalog, load_catalog
from subsidy.infra.lifecycle import running
from subsidy.infra.signing_keys import KEY_ID_HEADER, SIGNATURE_HEADER, Signer, write_key_pair
from subsidy.notifier.bootstrap import notifier_worker
from subsidy.notifier.settings import NotifierSettings
from tests.notifier.receivers import (
    MailStore,
    WebhookReceiver,
    decision,
    eventually,
    read_dead_letters,
)
from tests.notifier.stack import (
    MAIL,
    A,
    ledger_signer,
    metric,
    publish,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CATALOG: Catalog = load_catalog()


def _paid(event_id: str, granted_fen: int) -> dpb.Decision:
    return decision(CATALOG, A, event_id, "m12.training_base", dpb.PAID,
                    granted_fen=granted_fen, cash_delta_fen=granted_fen)  # fmt: skip


@pytest.mark.redteam
async def test_a_forged_decision_is_dead_lettered_and_never_notified(
    kafka_bootstrap: str,
    topic: str,
    dead_letters: str,
    smtp: MailStore,
    receiver: WebhookReceiver,
    subscribed_a: NotifierSettings,
    tmp_path: Path,
) -> None:
    settings = subscribed_a
    impostor = Signer.from_file(write_key_pair(tmp_path / "impostor")[0])
    unsigned, other_key, raised, genuine = (
        _paid("ev-forged-1", 900_000_000), _paid("ev-forged-2", 900_000_000),
        _paid("ev-forged-3", 100_000_000), _paid("ev-genuine", 100_000_000),
    )  # fmt: skip
    # The genuine decision's signature, on a copy whose amount was raised afterwards.
    signed_small = ledger_signer().sign(raised.SerializeToString())
    raised.granted_fen = raised.cash_delta_fen = 900_000_000
    own_id = ledger_signer().key_id.encode()
    headers = [
        [],
        [(SIGNATURE_HEADER, impostor.sign(other_key.SerializeToString())), (KEY_ID_HEADER, own_id)],
        [(SIGNATURE_HEADER, signed_small), (KEY_ID_HEADER, own_id)],
        [(SIGNATURE_HEADER, ledger_signer().sign(genuine.SerializeToString())),
         (KEY_ID_HEADER, own_id)],
    ]  # fmt: skip
    before = {r: metric("subsidy_notifier_forged_decisions_total", reason=r)
              for r in ("unsigned", "bad_signature")}  # fmt: skip

    async with running(notifier_worker(settings, CATALOG)):
        # One enterprise, one partition: the forged records are read before the genuine one.
        await publish(kafka_bootstrap, topic, [unsigned, other_key, raised, genuine], headers)

        async def genuine_delivered() -> bool:
            return bool(receiver.keys("a")) and bool(smtp.to(MAIL[A]))

        await eventually(genuine_delivered, what="the genuine decision's webhook and mail")

    assert receiver.keys("a") == {genuine.decision_id}
    assert [m["X-Subsidy-Decision-Id"] for m in smtp.to(MAIL[A])] == [genuine.decision_id]
    letters = read_dead_letters(kafka_bootstrap, dead_letters, 3)
    forged = "decision refused: the signature does not match the record: forged or altered"
    assert [(d.stage, d.error) for d in letters] == [
        ("notifier", "decision refused: not signed by the ledger (no subsidy-signature / "
                     "subsidy-key-id header)"),
        ("notifier", forged),
        ("notifier", forged),
    ]  # fmt: skip
    assert [dpb.Decision.FromString(d.value).decision_id for d in letters] == [
        unsigned.decision_id,
        other_key.decision_id,
        raised.decision_id,
    ]
    assert metric("subsidy_notifier_forged_decisions_total", reason="unsigned") \
        == before["unsigned"] + 1  # fmt: skip
    assert metric("subsidy_notifier_forged_decisions_total", reason="bad_signature") \
        == before["bad_signature"] + 2  # fmt: skip


def test_the_worker_needs_the_ledger_public_key(tmp_path: Path) -> None:
    not_a_key = tmp_path / "key.pem"
    not_a_key.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ValueError, match="not a PEM public key"):
        NotifierSettings(ledger_public_key_file=not_a_key)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="NOTIFIER_LEDGER_PUBLIC_KEY_FILE is required"):
        NotifierSettings().ledger_verifier()  # type: ignore[call-arg]
