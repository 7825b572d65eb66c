"""What a person's session may read of the ledger within the methods its role may call."""

# An enterprise reads its own enterprise's data only, and is refused without being told whether
# another's exists.

from typing import NoReturn

import grpc
import structlog

from subsidy.domain.events import FieldError
from subsidy.identity.principal import Principal, Role, current_principal
from subsidy.infra.grpc_errors import bad_request

log = structlog.get_logger(__name__)


def bound_enterprise() -> Principal | None:
    """The calling enterprise's principal, if the call is an enterprise's session."""
    person = current_principal.get()
    return person if person is not None and person.role is Role.ENTERPRISE else None


def may_read(enterprise_id: str | None) -> bool:
    """May the caller read this enterprise's data (anyone but another enterprise)?"""
    person = bound_enterprise()
    return person is None or (enterprise_id is not None and enterprise_id == person.enterprise_id)


async def deny(context: grpc.aio.ServicerContext, field: str) -> NoReturn:
    """PERMISSION_DENIED naming the field; the same answer whether or not the id exists."""
    person = bound_enterprise()
    name = person.name if person is not None else "?"
    log.warning("ledger_api.not_own_enterprise", principal=name, field=field)
    message = f"permission denied: {name} may read its own enterprise's data only"
    await context.abort_with_status(
        bad_request([FieldError(field, message)], code=grpc.StatusCode.PERMISSION_DENIED)
    )
    raise AssertionError("abort_with_status returns only by raising")
