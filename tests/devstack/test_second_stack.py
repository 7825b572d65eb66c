"""A second local stack (the fault suite's) beside the developer's: own folder, own ports."""

from pathlib import Path

from subsidy.devstack import endpoints
from subsidy.devstack.db_logins import with_tls
from subsidy.devstack.kafka_broker import Broker, BrokerSecurity, server_properties
from subsidy.devstack.paths import Layout
from subsidy.devstack.paths import layout as layout_of_checkout
from subsidy.devstack.postgres_db import local_url
from subsidy.faults.stack import PrivateStack, fault_layout

SECURITY = BrokerSecurity(Path("keystore.pem"), Path("ca.pem"), "admin-password")


def test_the_default_layout_and_ports_are_the_devstacks(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.run == tmp_path / ".run"
    assert Broker(layout).bootstrap == endpoints.LOCAL_KAFKA_BOOTSTRAP
    checkout_ca = layout_of_checkout().tls_dir / "ca.pem"
    assert local_url() == with_tls(endpoints.LOCAL_DATABASE_URL, checkout_ca)
    assert server_properties(tmp_path, SECURITY) == server_properties(
        tmp_path, SECURITY, endpoints.KAFKA_PORT, endpoints.KAFKA_CONTROLLER_PORT
    )


def test_the_fault_stack_keeps_to_its_own_folder_and_ports(tmp_path: Path) -> None:
    stack = PrivateStack(fault_layout(tmp_path))
    mine = tmp_path / ".run" / "faults"
    for path in (stack.broker.data_dir, stack.layout.kafka_pid, stack.layout.logs,
                 stack.postgres.data_dir, stack.layout.postgres_pid, stack.layout.tls_dir,
                 stack.kafka_passwords):  # fmt: skip
        assert path.is_relative_to(mine), path
    assert stack.layout.cache == tmp_path / ".cache"  # Kafka's jars are shared, not fetched again
    shared = {endpoints.KAFKA_PORT, endpoints.KAFKA_CONTROLLER_PORT, endpoints.POSTGRES_PORT}
    assert not shared & {stack.broker.port, stack.broker.controller_port, stack.postgres.port}
    properties = server_properties(mine, SECURITY, stack.broker.port, stack.broker.controller_port)
    assert f"listeners=SASL_SSL://127.0.0.1:{stack.broker.port}," in properties
    assert str(endpoints.KAFKA_PORT) not in properties
    assert f":{stack.postgres.port}/" in stack.database_url
    assert f"sslrootcert={mine}/tls/ca.pem" in stack.database_url  # its own CA
