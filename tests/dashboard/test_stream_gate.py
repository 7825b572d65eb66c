"""The stream gate's counting and the trusted-proxy setting, without a server."""

import pytest
from pydantic import ValidationError

from subsidy.dashboard.settings import DashboardSettings
from subsidy.dashboard.streams import StreamGate, parse_networks


def test_the_gate_counts_by_client_and_in_all() -> None:
    gate = StreamGate(total=3, per_client=2)
    assert [gate.admit("a"), gate.admit("a"), gate.admit("a")] == [None, None, "per_client"]
    assert gate.admit("b") is None
    assert gate.admit("c") == "total"
    gate.release("a")
    assert gate.admit("c") is None
    assert gate.open == 3


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.0/8, ::1 ,,192.168.1.7")] == [
        "10.0.0.0/8", "::1/128", "192.168.1.7/32"
    ]  # fmt: skip
    assert parse_networks("") == ()


def test_a_bad_trusted_proxy_is_a_settings_error_naming_it() -> None:
    with pytest.raises(ValidationError) as err:
        DashboardSettings.model_validate({"DASHBOARD_TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"})
    assert "DASHBOARD_TRUSTED_PROXIES" in str(err.value)
    assert "'proxy.local'" in str(err.value)
