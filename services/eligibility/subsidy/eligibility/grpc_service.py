"""gRPC `subsidy.api.v1.EligibilityService`: a dry run of the policy, with no side effects."""

from collections.abc import Sequence
from typing import NoReturn

import grpc
import structlog

from subsidy.api.v1 import api_pb2, api_pb2_grpc
from subsidy.contract.codec import entitlement_to_proto, event_from_proto
from subsidy.domain.catalog import Catalog
from subsidy.domain.evaluator import evaluate
from subsidy.domain.events import FieldError, InvalidEvent
from subsidy.infra.grpc_errors import bad_request
from subsidy.infra.grpc_server import Registration

log = structlog.get_logger(__name__)

SERVICE_NAME = api_pb2.DESCRIPTOR.services_by_name["EligibilityService"].full_name


class EligibilityServicer(api_pb2_grpc.EligibilityServiceServicer):
    """Evaluate one event against the catalog and return its entitlements with their traces."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    async def Evaluate(
        self, request: api_pb2.EvaluateRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.EvaluateResponse:
        """The entitlements the event would trigger (statuses before the ledger's limits)."""
        if not request.HasField("event"):
            await _abort_invalid(context, "no event", [FieldError("event", "required")])
        try:
            event = event_from_proto(request.event)
        except InvalidEvent as err:
            await _abort_invalid(context, f"invalid event: {err}", err.errors)
        evaluation = evaluate(event, self._catalog)
        log.debug("eligibility.dry_run", event_id=event.event_id,
                  entitlements=len(evaluation.entitlements))  # fmt: skip
        return api_pb2.EvaluateResponse(
            entitlements=[entitlement_to_proto(e) for e in evaluation.entitlements],
            catalog_version=evaluation.catalog_version,
        )


async def _abort_invalid(
    context: grpc.aio.ServicerContext, message: str, errors: Sequence[FieldError]
) -> NoReturn:
    """INVALID_ARGUMENT with a google.rpc.BadRequest naming each bad field."""
    await context.abort_with_status(bad_request(errors, message))
    raise AssertionError("abort_with_status returns only by raising")


def registration(catalog: Catalog) -> Registration:
    """The servicer as `subsidy.infra.grpc_server.start_server` takes it."""
    servicer = EligibilityServicer(catalog)
    return Registration(
        # Registration takes any servicer; the generated function wants this one's type.
        add=lambda _, server: api_pb2_grpc.add_EligibilityServiceServicer_to_server(
            servicer, server
        ),
        servicer=servicer,
        service_name=SERVICE_NAME,
    )
