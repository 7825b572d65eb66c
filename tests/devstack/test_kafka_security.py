"""The local broker lets in only SCRAM logins over TLS, and each service only where allowed."""

# Each service only where the access table says: every (service, topic) write and read tried for
# real, on topics of this test.

import asyncio
import re
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import astuple, replace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KafkaPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import TopicAuthorizationFailedError as KafkaTopicAuthorizationFailed

from subsidy.devstack import kafka_grants, kafka_logins
from subsidy.devstack.endpoints import external_kafka
from subsidy.devstack.paths import layout
from subsidy.infra import kafka_access as access
from subsidy.infra.kafka_client import KafkaConnection
from subsidy.infra.topics import ALL_TOPICS
from tests.support.kafka import connection
from tests.support.topics import private_topics

pytestmark = [pytest.mark.kafka, pytest.mark.redteam]
# How long a read is given to bring back the record before it counts as refused.
FETCH_DEADLINE_S = 3.0


@pytest.fixture(scope="module")
def names(kafka_bootstrap: str) -> Iterator[tuple[access.TopicNames, access.GroupIds]]:
    """Private topics and groups, with the access table granted on them."""
    tag = uuid.uuid4().hex[:8]
    topics = access.TopicNames(*(f"acl.{tag}.{n}" for n in astuple(access.TopicNames())))
    groups = access.GroupIds(*(f"acl-{tag}-{g}" for g in astuple(access.GroupIds())))
    admin = connection(kafka_bootstrap)
    with private_topics(kafka_bootstrap, dict.fromkeys(astuple(topics), 1)):
        kafka_grants.grant(admin, access.grants(topics, groups))
        producer = KafkaProducer(**admin.options(), acks="all")
        for topic in astuple(topics):  # something to read on each
            producer.send(topic, key=b"probe", value=b"probe").get(timeout=30)
        producer.close()
        try:
            yield topics, groups
        finally:
            kafka_grants.revoke(admin, access.grants(topics, groups))


def _login(bootstrap: str, principal: str) -> KafkaConnection:
    """The service's login on the local stack's broker; another broker has logins of its own."""
    local = kafka_logins.connection(layout(), principal, bootstrap)
    if external_kafka() or local is None:
        pytest.skip("the service logins are the local stack's; this broker is external")
    return local


async def _write(kafka: KafkaConnection, topic: str) -> bool:
    """True if the principal could write a record to topic, False if refused for it."""
    producer = AIOKafkaProducer(**kafka.options(), request_timeout_ms=10_000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"probe", key=b"probe")
        return True
    except TopicAuthorizationFailedError:
        return False
    finally:
        await producer.stop()


def _fetch(kafka: KafkaConnection, topic: str) -> bool:
    """True if the principal got the record the admin put on topic (assigned: no group). A
    refusal is an error when the principal may describe the topic, and silence when it may
    not even see it: either way no record within the deadline."""
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        partition = KafkaPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        deadline = time.monotonic() + FETCH_DEADLINE_S
        while time.monotonic() < deadline:
            if consumer.poll(timeout_ms=250):
                return True
        return False
    except KafkaTopicAuthorizationFailed:
        return False
    finally:
        consumer.close()


async def _commit(kafka: KafkaConnection, topic: str, group: str) -> bool:
    """True if the principal could commit an offset of topic as group."""
    consumer = AIOKafkaConsumer(**kafka.options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.commit({partition: 0})
        return True
    except GroupAuthorizationFailedError:
        return False
    finally:
        await consumer.stop()


def _granted(names: tuple[access.TopicNames, access.GroupIds]) -> set[tuple[str, str, str]]:
    return {(g.principal, g.name, g.operation) for g in access.grants(*names)}


def test_each_service_writes_exactly_the_topics_the_table_gives_it(
    kafka_bootstrap: str, names: tuple[access.TopicNames, access.GroupIds]
) -> None:
    granted = _granted(names)
    tried = {
        (service, topic): asyncio.run(_write(_login(kafka_bootstrap, service), topic))
        for service in access.SERVICES
        for topic in astuple(names[0])
    }
    expected = {key: (*key, access.WRITE) in granted for key in tried}
    assert tried == expected
    # The cases the issue names, spelled out: neither can forge the next stage's input.
    assert not tried[(access.ELIGIBILITY, names[0].decisions)]
    assert not tried[(access.INGEST, names[0].entitlements)]


def test_each_service_reads_exactly_the_topics_the_table_gives_it(
    kafka_bootstrap: str, names: tuple[access.TopicNames, access.GroupIds]
) -> None:
    granted = _granted(names)
    tried = {
        (service, topic): _fetch(_login(kafka_bootstrap, service), topic)
        for service in access.SERVICES
        for topic in astuple(names[0])
    }
    assert tried == {key: (*key, access.READ) in granted for key in tried}
    # Nobody but the admin reads dead letters, and the relay does not read what it publishes.
    assert not any(tried[(s, names[0].dead_letters)] for s in access.SERVICES)
    assert not tried[(access.LEDGER_RELAY, names[0].decisions)]


def test_each_consumer_commits_in_its_own_group_only(
    kafka_bootstrap: str, names: tuple[access.TopicNames, access.GroupIds]
) -> None:
    topics, groups = names
    own = {
        access.ELIGIBILITY: (topics.enterprise_events, groups.eligibility),
        access.LEDGER_WORKER: (topics.entitlements, groups.ledger),
        access.NOTIFIER: (topics.decisions, groups.notifier),
    }
    for service, (topic, group) in own.items():
        kafka = _login(kafka_bootstrap, service)
        assert asyncio.run(_commit(kafka, topic, group)), service
        for other in {g for _, g in own.values()} - {group}:
            assert not asyncio.run(_commit(kafka, topic, other)), (service, other)
    for service in (access.INGEST, access.LEDGER_RELAY):
        kafka = _login(kafka_bootstrap, service)
        assert not any(asyncio.run(_commit(kafka, t, g)) for t, g in own.values()), service


def test_a_principal_sees_only_the_topics_it_may_use(
    kafka_bootstrap: str, names: tuple[access.TopicNames, access.GroupIds]
) -> None:
    ours = set(astuple(names[0]))
    for service in access.SERVICES:
        admin = KafkaAdminClient(**_login(kafka_bootstrap, service).options())
        try:
            seen = set(admin.list_topics()) & ours
        finally:
            admin.close()
        assert seen == {name for who, name, _ in _granted(names) if who == service and name in ours}


async def _metadata(kafka: KafkaConnection) -> None:
    producer = AIOKafkaProducer(**kafka.options(), request_timeout_ms=5_000)
    try:
        await producer.start()
    finally:
        await producer.stop()


def test_no_login_no_tls_no_entry(kafka_bootstrap: str) -> None:
    admin = connection(kafka_bootstrap)
    plaintext = KafkaConnection(kafka_bootstrap, security_protocol="PLAINTEXT")
    tls_only = KafkaConnection(kafka_bootstrap, security_protocol="SSL", cafile=admin.cafile)
    wrong_password = replace(admin, password="not-the-password-" + uuid.uuid4().hex)
    for refused in (plaintext, tls_only, wrong_password):
        with pytest.raises(KafkaConnectionError):
            asyncio.run(_metadata(refused))


def test_the_broker_is_checked_against_the_ca(kafka_bootstrap: str) -> None:
    """Without the local CA (the system's trust store only) the handshake fails: a client
    never sends its password to a broker it cannot verify."""
    untrusting = replace(connection(kafka_bootstrap), cafile=None)
    with pytest.raises((KafkaConnectionError, ssl.SSLError)):
        asyncio.run(_metadata(untrusting))


def _kcat_list(kafka: KafkaConnection, *login: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kcat", "-b", kafka.bootstrap, "-L", "-m", "5", *login],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_kcat_sees_nothing_without_a_login_and_with_one_only_its_topics(
    kafka_bootstrap: str,
) -> None:
    """librdkafka, a client this code does not configure: the same rules hold."""
    notifier = _login(kafka_bootstrap, access.NOTIFIER)
    refused = _kcat_list(notifier)
    assert refused.returncode != 0
    assert "Failed to acquire metadata" in refused.stderr
    listed = _kcat_list(
        notifier,
        "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
        "-X", f"sasl.username={notifier.username}", "-X", f"sasl.password={notifier.password}",
        "-X", f"ssl.ca.location={notifier.cafile}",
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    seen = set(re.findall(r'topic "([^"]+)"', listed.stdout))
    standard = {t.name for t in ALL_TOPICS}
    assert seen & standard == {"decisions.v1", "appeals.v1", "dead-letters.v1"}
