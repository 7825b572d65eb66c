"""`subsidy dev schemas`: every record kind registered, as writers with a registry need."""

# Against confluent-kafka's in-process registry (`mock://`): the command's flow, not a server.

from typer.testing import CliRunner

from subsidy.cli.main import app
from subsidy.infra import records


def test_every_record_kind_is_registered_and_listed_with_its_id() -> None:
    result = CliRunner().invoke(app, ["dev", "schemas", "--registry", "mock://dev-schemas"])
    assert result.exit_code == 0, result.output
    listed = dict(line.split(": ") for line in result.output.splitlines())
    assert set(listed) == {p.subject for p in records.PAYLOADS.values()}
    assert all(v.isdigit() for v in listed.values())


def test_an_unreachable_registry_is_named_without_its_password() -> None:
    result = CliRunner().invoke(
        app, ["dev", "schemas", "--registry", "http://user:s3cret@127.0.0.1:9/apis/ccompat/v7"]
    )
    assert result.exit_code == 1
    assert "http://127.0.0.1:9/apis/ccompat/v7" in result.output
    assert "s3cret" not in result.output
