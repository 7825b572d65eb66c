"""A `subsidy eligibility worker` process on private topics, and reading topics back."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from subsidy.harness.processes import free_port
from tests.support.kafka import client_options
from tests.support.topics import create_topics, delete_topics

SUBSIDY = Path(sys.executable).with_name("subsidy")
STOP_WITHIN_S = 10.0
WAIT_S = 60.0


@dataclass(frozen=True)
class Topics:
    """One isolated set of topics and a consumer group."""

    input: str
    output: str
    dead_letter: str
    group: str

    @classmethod
    def unique(cls, label: str) -> "Topics":
        tag = f"{label}.{uuid.uuid4().hex[:12]}"
        return cls(f"test.elig.in.{tag}", f"test.elig.out.{tag}", f"test.elig.dlq.{tag}",
                   f"test-elig-{tag}")  # fmt: skip


def delete_eligibility_topics(bootstrap: str, topics: Topics) -> None:
    delete_topics(bootstrap, [topics.input, topics.output, topics.dead_letter])


@contextmanager
def eligibility_topics(bootstrap: str, label: str, with_output: bool = True) -> Iterator[Topics]:
    topics = Topics.unique(label)
    names = {topics.input: 3, topics.dead_letter: 1}
    if with_output:
        names[topics.output] = 3
    create_topics(bootstrap, names)
    try:
        yield topics
    finally:
        delete_eligibility_topics(bootstrap, topics)


@dataclass
class Worker:
    """A `subsidy eligibility worker` process and where its log goes."""

    proc: "subprocess.Popen[bytes]"
    log: Path
    metrics_port: int

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def assert_alive(self) -> None:
        assert self.proc.poll() is None, (
            f"worker exited ({self.proc.returncode}):\n{self.log_tail()}"
        )

    def terminate(self) -> tuple[int, float]:
        """SIGTERM; (exit status, seconds it took). Kills it if it outlives the limit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_WITHIN_S + 20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"worker ignored SIGTERM for 30 s:\n{self.log_tail()}")
        return code, time.monotonic() - started


@contextmanager
def eligibility_worker(bootstrap: str, topics: Topics, log: Path) -> Iterator[Worker]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "ELIGIBILITY_INPUT_TOPIC": topics.input,
        "ELIGIBILITY_OUTPUT_TOPIC": topics.output,
        "ELIGIBILITY_DEAD_LETTER_TOPIC": topics.dead_letter,
        "ELIGIBILITY_GROUP_ID": topics.group,
        "ELIGIBILITY_METRICS_PORT": str(port),
        "LOG_LEVEL": "INFO",
        # faust's (empty) data directory goes under the temporary directory: this test's.
        "TMPDIR": str(log.parent),
    }
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(SUBSIDY), "eligibility", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    worker = Worker(proc, log, port)
    try:
        yield worker
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


Record = Any  # kafka-python's ConsumerRecord


def read_until(
    bootstrap: str, topic: str, done: Callable[[list[Record]], bool], timeout: float = WAIT_S
) -> list[Record]:
    """Every record of topic (from the start) once `done` says so; fails after timeout."""
    consumer = KafkaConsumer(**client_options(bootstrap), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
            if done(records):
                return records
        raise AssertionError(f"{topic}: condition not met within {timeout:.0f}s ({len(records)} "
                             "records)")  # fmt: skip
    finally:
        consumer.close()


def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every record of topic up to its current end."""
    consumer = KafkaConsumer(**client_options(bootstrap), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    total = sum(ends.values())
    return read_until(bootstrap, topic, lambda rs: len(rs) >= total)
