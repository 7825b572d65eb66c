"""The dashboard's settings: where it listens, how often it looks at the ledger (DASHBOARD_*)."""

from pydantic import AliasChoices, Field, field_validator

from subsidy.dashboard.streams import parse_networks
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
    # Event streams open at once, in all and per client address; over either, /events is
    # refused (503, 429) with Retry-After, so one browser or script cannot take every place.
    max_clients: int = Field(200, ge=1, le=10_000, validation_alias=_env("max_clients"))
    streams_per_client: int = Field(4, ge=1, le=10_000, validation_alias=_env("streams_per_client"))
    # A stream ends after this long and the browser's EventSource opens a new one by itself, so
    # a forgotten tab or a stuck client holds no place for ever.
    stream_lifetime_seconds: float = Field(
        900.0, gt=0, le=86_400, validation_alias=_env("stream_lifetime_seconds")
    )
    # Proxies in front of the page (addresses or CIDR blocks, comma-separated) whose
    # X-Forwarded-For names the client; empty: the peer address is the client.
    trusted_proxies: str = Field("", validation_alias=_env("trusted_proxies"))

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value
