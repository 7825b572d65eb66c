"""A second local stack (the fault suite's) beside the developer's: own folder, own ports."""

from pathlib import Path

from subsidy.devstack import endpoints
from subsidy.devstack.kafka_broker import Broker, server_properties
from subsidy.devstack.paths import Layout
from subsidy.devstack.postgres_db import local_url
from subsidy.faults.stack import PrivateStack, fault_layout


def test_the_default_layout_and_ports_are_the_devstacks(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.run == tmp_path / ".run"
    assert Broker(layout).bootstrap == endpoints.LOCAL_KAFKA_BOOTSTRAP
    assert local_url() == endpoints.LOCAL_DATABASE_URL
    assert server_properties(tmp_path) == server_properties(
        tmp_path, endpoints.KAFKA_PORT, endpoints.KAFKA_CONTROLLER_PORT
    )


def test_the_fault_stack_keeps_to_its_own_folder_and_ports(tmp_path: Path) -> None:
    stack = PrivateStack(fault_layout(tmp_path))
    mine = tmp_path / ".run" / "faults"
    for path in (stack.broker.data_dir, stack.layout.kafka_pid, stack.layout.logs,
                 stack.postgres.data_dir, stack.layout.postgres_pid):  # fmt: skip
        assert path.is_relative_to(mine), path
    assert stack.layout.cache == tmp_path / ".cache"  # Kafka's jars are shared, not fetched again
    shared = {endpoints.KAFKA_PORT, endpoints.KAFKA_CONTROLLER_PORT, endpoints.POSTGRES_PORT}
    assert not shared & {stack.broker.port, stack.broker.controller_port, stack.postgres.port}
    properties = server_properties(mine, stack.broker.port, stack.broker.controller_port)
    assert f"listeners=PLAINTEXT://127.0.0.1:{stack.broker.port}," in properties
    assert str(endpoints.KAFKA_PORT) not in properties
    assert f":{stack.postgres.port}/" in stack.database_url
