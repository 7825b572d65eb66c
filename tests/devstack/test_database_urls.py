"""The URLs of the local PostgreSQL keep their TLS parameters through every rewrite."""

# A login, another database, a search_path.

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from subsidy.devstack.db_logins import with_login, with_tls
from subsidy.harness.databases import url_of, with_search_path

CA = Path("/home/dev/my checkout/.run/tls/ca.pem")  # a space, and slashes after the last "/"


def _params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, strict_parsing=True)


def test_tls_is_required_and_checked_against_the_ca_other_parameters_kept() -> None:
    url = with_tls("postgresql://u@127.0.0.1:55432/db?sslmode=prefer&application_name=x", CA)
    assert _params(url) == {
        "application_name": ["x"],
        "sslmode": ["verify-full"],
        "sslrootcert": [str(CA)],
    }
    assert with_tls(url, CA) == url


def test_a_login_another_database_and_a_search_path_keep_tls() -> None:
    base = with_tls("postgresql://subsidy:pw@127.0.0.1:55432/subsidy", CA)
    worker = with_login(base, "ledger_worker", "s3cret/+")
    scratch = with_search_path(url_of(worker, "subsidy_test_1"), "ledger_ab")
    parts = urlsplit(scratch)
    assert (parts.username, parts.password) == ("ledger_worker", "s3cret%2F%2B")
    assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", 55432, "/subsidy_test_1")
    assert _params(scratch) == {
        "sslmode": ["verify-full"],
        "sslrootcert": [str(CA)],
        "search_path": ["ledger_ab"],
    }
