"""`subsidy notify worker` as a process."""

# Configured from the environment, it delivers, and SIGTERM stops it cleanly.

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.catalog import load_catalog
from tests.notifier.receivers import MailStore, decision, eventually
from tests.notifier.stack import (
    MAIL,
    SENDER,
    SUBSIDY,
    A,
    ledger_keys,
    notify_cli,
    publish,
)

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_worker_command_delivers_and_stops_on_sigterm(
    kafka_bootstrap: str, topic: str, db_url: str, smtp: MailStore, tmp_path: Path
) -> None:
    """`subsidy notify worker` as a process: configured from the environment, it delivers, and
    SIGTERM stops it cleanly (exit 0)."""
    catalog = load_catalog()
    subs_file = tmp_path / "subscriptions.yaml"
    subs_file.write_text(f"- enterpriseId: {A}\n  email: {MAIL[A]}\n", encoding="utf-8")
    loaded = await asyncio.to_thread(notify_cli, db_url, "subscriptions", "load", str(subs_file))
    assert loaded.returncode == 0, loaded.stderr
    paid = decision(catalog, A, "ev-proc-1", "m12.training_base", dpb.PAID,
                    granted_fen=100_000_000, cash_delta_fen=100_000_000)  # fmt: skip
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NOTIFIER_TOPIC": topic,
        "NOTIFIER_GROUP_ID": f"test-notifier-proc-{uuid.uuid4().hex[:12]}",
        "NOTIFIER_SMTP_HOST": "127.0.0.1",
        "NOTIFIER_SMTP_PORT": str(smtp.port),
        "NOTIFIER_SMTP_SENDER": SENDER,
        "NOTIFIER_POLL_SECONDS": "0.2",
        "NOTIFIER_LEDGER_PUBLIC_KEY_FILE": str(ledger_keys()[1]),
    }
    log = (tmp_path / "worker.log").open("w")
    process = await asyncio.create_subprocess_exec(
        SUBSIDY, "notify", "worker", env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        await publish(kafka_bootstrap, topic, [paid])

        async def mailed() -> bool:
            return bool(smtp.to(MAIL[A]))

        await eventually(mailed, what="the worker process to send the mail")
        message = smtp.to(MAIL[A])[0]
        assert message["X-Subsidy-Decision-Id"] == paid.decision_id
        assert "核定支持金额：¥1,000,000.00" in message.get_content()
        assert "第十二条 加强产业人才支撑 · 人才公共实训基地" in message.get_content()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=30)
        log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()
