"""Typed settings read from the environment, one object per service, failing fast."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from subsidy.devstack.endpoints import LOCAL_DATABASE_URL, LOCAL_KAFKA_BOOTSTRAP


class CommonSettings(BaseSettings):
    """What every service reads. Defaults point at the local devstack (`make up`); none of
    them is a secret — tokens and passwords have no default (see the services' settings)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(LOCAL_KAFKA_BOOTSTRAP, min_length=1)
    database_url: str = Field(LOCAL_DATABASE_URL, pattern=r"^postgres(ql)?://")
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = False
    metrics_port: int = Field(0, ge=0, le=65535, description="0 = no metrics endpoint")
    # Loopback by default (a laptop's metrics are nobody else's business); 0.0.0.0 in a pod,
    # where Prometheus scrapes from another address.
    metrics_address: str = Field("127.0.0.1", min_length=1)
