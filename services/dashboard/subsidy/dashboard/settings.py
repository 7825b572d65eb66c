"""The dashboard's settings: where it listens, how often it looks at the ledger (DASHBOARD_*)."""

from pydantic import AliasChoices, Field

from subsidy.infra.settings import CommonSettings


def _env(name: str) -> AliasChoices:
    """Read DASHBOARD_<NAME> from the environment; the plain field name also works as a keyword
    (tests build settings directly)."""
    return AliasChoices(f"DASHBOARD_{name.upper()}", name)


class DashboardSettings(CommonSettings):
    """What `subsidy dashboard serve` reads (DASHBOARD_* variables, plus the common ones:
    DATABASE_URL, LOG_LEVEL, …). Its Prometheus metrics are served on its own port at
    /metrics, so METRICS_PORT is not used."""

    # Loopback by default: the page shows enterprise names and amounts and has no login.
    host: str = Field("127.0.0.1", min_length=1, validation_alias=_env("host"))
    port: int = Field(
        8088, ge=0, le=65535, description="0 = any free port", validation_alias=_env("port")
    )
    # The ledger NOTIFYs each commit; polling only covers a lost listener connection.
    poll_seconds: float = Field(2.0, gt=0, le=60, validation_alias=_env("poll_seconds"))
    # Totals are recomputed at most this often, however fast decisions arrive.
    min_refresh_seconds: float = Field(
        0.5, ge=0, le=60, validation_alias=_env("min_refresh_seconds")
    )
    latest_limit: int = Field(50, ge=1, le=1000, validation_alias=_env("latest_limit"))
    # A comment line this often keeps proxies from closing an idle event stream.
    keepalive_seconds: float = Field(15.0, gt=0, le=300, validation_alias=_env("keepalive_seconds"))
    max_clients: int = Field(200, ge=1, le=10_000, validation_alias=_env("max_clients"))
