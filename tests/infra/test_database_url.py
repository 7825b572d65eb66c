"""Every PostgreSQL URL a service reads must check the server (sslmode=verify-full)."""

# Anything else, even an absent sslmode (asyncpg then `prefer`s TLS without checking it), is refused
# by name, unless DATABASE_PLAINTEXT=true says otherwise in so many words.

import importlib
import typing
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from subsidy.infra.settings import LOCAL_DATABASE_URL, CommonSettings, PostgresUrl
from subsidy.ledger.api_settings import LedgerApiSettings

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "never-shown-4711"
BASE = f"postgresql://subsidy:{PASSWORD}@db.example:5432/subsidy"
AUDITORS = '{"auditor-li": {"tokens": ["' + "a" * 32 + '"]}}'
REFUSED = {
    "": "no sslmode",
    "?sslmode=disable": "sslmode=disable",
    "?sslmode=allow": "sslmode=allow",
    "?sslmode=prefer": "sslmode=prefer",
    "?sslmode=require": "sslmode=require",
    "?sslmode=verify-ca": "sslmode=verify-ca",
    "?sslmode=VERIFY-FULL": "sslmode=VERIFY-FULL",  # asyncpg would refuse it too, later
    "?sslmode=verify-full&sslmode=disable": "sslmode=disable",  # the last one counts
    "?sslrootcert=/ca.pem": "no sslmode",
}


def _common(**values: object) -> CommonSettings:
    return CommonSettings.model_validate(values)


def _api(url: str) -> LedgerApiSettings:
    values = {"LEDGER_API_DATABASE_URL": url, "LEDGER_API_AUDITOR_TOKENS": AUDITORS}
    return LedgerApiSettings.model_validate(values)


@pytest.fixture(autouse=True)
def _no_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_PLAINTEXT", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_default_url_checks_the_server() -> None:
    assert LOCAL_DATABASE_URL.endswith("?sslmode=verify-full")
    assert _common().database_url == LOCAL_DATABASE_URL
    assert _common(database_url=LOCAL_DATABASE_URL).database_url == LOCAL_DATABASE_URL


@pytest.mark.parametrize("query", ["?sslmode=verify-full", "?sslmode=verify-full&sslrootcert=/x"])
def test_verify_full_is_taken(query: str) -> None:
    assert _common(database_url=BASE + query).database_url == BASE + query
    assert _api(BASE + query).database_url == BASE + query


@pytest.mark.parametrize("query", sorted(REFUSED))
def test_anything_else_is_refused_by_name_without_the_password(query: str) -> None:
    builds: list[tuple[Callable[[], object], str]] = [
        (lambda: _common(database_url=BASE + query), "database_url"),
        (lambda: _api(BASE + query), "LEDGER_API_DATABASE_URL"),
    ]
    for build, where in builds:
        with pytest.raises(ValidationError) as refused:
            build()
        (error,) = refused.value.errors()
        assert error["loc"] == (where,)
        assert f"database_url has {REFUSED[query]}: " in error["msg"]
        assert "sslmode=verify-full" in error["msg"]
        assert "DATABASE_PLAINTEXT=true" in error["msg"]
        assert PASSWORD not in str(refused.value)


def test_database_plaintext_true_is_the_only_way_around(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_PLAINTEXT", "false")
    with pytest.raises(ValidationError, match="database_url has no sslmode"):
        _common(database_url=BASE)
    monkeypatch.setenv("DATABASE_PLAINTEXT", "true")
    assert _common(database_url=BASE).database_url == BASE
    assert _api(BASE + "?sslmode=disable").database_url == BASE + "?sslmode=disable"
    monkeypatch.delenv("DATABASE_PLAINTEXT")
    assert _common(database_url=BASE, database_plaintext=True).database_plaintext


def _settings_classes() -> list[type[CommonSettings]]:
    """Every settings class of the services (their settings modules imported first)."""
    for path in sorted(REPO.glob("services/*/subsidy/*/*settings*.py")):
        importlib.import_module(f"subsidy.{path.parent.name}.{path.stem}")
    found, todo = [], [CommonSettings]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_database_url_setting_is_checked() -> None:
    """A URL field added without the type would take any sslmode again."""
    checks = list(typing.get_args(PostgresUrl)[1:])
    urls = {
        (cls.__name__, name): field
        for cls in _settings_classes()
        for name, field in cls.model_fields.items()
        if "database" in name and "url" in name
    }
    assert ("LedgerApiSettings", "database_url") in urls
    unchecked = [key for key, field in urls.items() if field.metadata[-len(checks) :] != checks]
    assert unchecked == []
