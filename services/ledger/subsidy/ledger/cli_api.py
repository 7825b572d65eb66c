"""`subsidy ledger statement|explain|totals|decisions`: the query API's clients."""

# Also the call `ledger verify --server` makes.
#
# The query commands call the API rather than PostgreSQL: the API is the one place access is checked
# (an auditor token) and the one read-only database role is used, so an auditor's machine needs no
# database credentials, and what the CLI shows is exactly what the API answers. The call, its exit
# statuses and the TLS it goes over: subsidy.ledger.api_client.

from enum import StrEnum
from typing import Annotated

import typer

from subsidy.api.v1 import api_pb2
from subsidy.decisions.v1 import decisions_pb2 as dpb
from subsidy.domain.enums import District
from subsidy.events.v1 import events_pb2 as epb
from subsidy.infra import cli_output as out
from subsidy.infra.cli_output import FormatOption, Lang, LangOption, OutputFormat
from subsidy.infra.grpc_cli import (
    CacertOption,
    CertOption,
    KeyOption,
    PlaintextOption,
    client_transport_or_exit,
)
from subsidy.infra.grpc_tls import ClientTransport
from subsidy.ledger import decisions_view, explain_view, report, report_tables
from subsidy.ledger.api_client import ServerOption, TokenOption, call_api
from subsidy.ledger.api_settings import DEFAULT_GRPC_ADDRESS


class GroupBy(StrEnum):
    """What `totals --by` groups by."""

    measure = "measure"
    rule = "rule"
    district = "district"
    year = "year"
    channel = "channel"


_TOTALS_GROUP = {
    GroupBy.measure: api_pb2.MEASURE,
    GroupBy.rule: api_pb2.RULE,
    GroupBy.district: api_pb2.DISTRICT,
    GroupBy.year: api_pb2.YEAR,
    GroupBy.channel: api_pb2.FUNDING_CHANNEL,
}


def statement_command(
    enterprise: Annotated[str, typer.Argument(help="统一社会信用代码 of the enterprise.")],
    year: Annotated[int | None, typer.Option("--year", help="Only this calendar year.")] = None,
    output_format: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
    server: ServerOption = DEFAULT_GRPC_ADDRESS,
    token: TokenOption = None,
    cacert: CacertOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    plaintext: PlaintextOption = False,
) -> None:
    """An enterprise's entitlements (each one's latest decision) with granted and clawback."""
    request = api_pb2.GetStatementRequest(enterprise_id=enterprise, year=year)
    transport = client_transport_or_exit(cacert, cert, key, plaintext)
    found = call_api(
        server, token, transport, lambda stub, auth: stub.GetStatement(request, metadata=auth)
    )
    if output_format is OutputFormat.json:
        out.write_json(report.as_json(found))
    elif output_format is OutputFormat.csv:
        decisions_view.write_csv(found.entitlements)
    else:
        report_tables.print_statement(out.console(), found, year, lang)


def explain_command(
    entitlement_id: Annotated[str, typer.Argument(help="<eventId>/<ruleId>")],
    output_format: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
    server: ServerOption = DEFAULT_GRPC_ADDRESS,
    token: TokenOption = None,
    cacert: CacertOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    plaintext: PlaintextOption = False,
) -> None:
    """Why an entitlement stands as it does: eligibility trace, every ledger check with
    its numbers, its revisions, the other decisions on the same item, and its corrections and
    retractions (更正记录: who sent each, when, why, what it changed). CSV: its revisions."""
    request = api_pb2.ExplainDecisionRequest(entitlement_id=entitlement_id)
    transport = client_transport_or_exit(cacert, cert, key, plaintext)
    found = call_api(
        server, token, transport, lambda stub, auth: stub.ExplainDecision(request, metadata=auth)
    )
    if output_format is OutputFormat.json:
        out.write_json(report.as_json(found))
    elif output_format is OutputFormat.csv:
        decisions_view.write_csv(found.history)
    else:
        explain_view.print_explanation(out.console(), found, lang)


def totals_command(
    by: Annotated[GroupBy, typer.Option("--by", help="How to group the granted amounts.")],
    output_format: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
    server: ServerOption = DEFAULT_GRPC_ADDRESS,
    token: TokenOption = None,
    cacert: CacertOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    plaintext: PlaintextOption = False,
) -> None:
    """Granted amounts and entitlements by measure, rule, district, year or funding channel.

    By channel, a payout under a rule with several responsible units is listed in full under
    each of them (the policy names no split), so the rows add up to more than the total.
    """
    request = api_pb2.GetTotalsRequest(group_by=_TOTALS_GROUP[by])
    transport = client_transport_or_exit(cacert, cert, key, plaintext)
    found = call_api(
        server, token, transport, lambda stub, auth: stub.GetTotals(request, metadata=auth)
    )
    if output_format is OutputFormat.json:
        out.write_json(report.as_json(found))
    elif output_format is OutputFormat.csv:
        out.write_csv(("key", "grantedFen", "entitlements", "sharedFen"),
                      ((t.key, t.granted_fen, t.entitlements, t.shared_fen)
                       for t in found.totals))  # fmt: skip
    else:
        report_tables.print_totals(out.console(), found, by.value, lang)


class DecisionStatus(StrEnum):
    """What `decisions --status` takes: a decision's statuses (ELIGIBLE is eligibility's
    verdict, never the ledger's)."""

    PAID = "PAID"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PENDING_REVIEW = "PENDING_REVIEW"
    DENIED = "DENIED"
    SUPERSEDED = "SUPERSEDED"
    REVOKED = "REVOKED"
    RETRACTED = "RETRACTED"
    REFERRED = "REFERRED"
    RECORDED = "RECORDED"


# The options of `decisions`: ListDecisions' filters and its page.
EnterpriseFilter = Annotated[str | None, typer.Option("--enterprise", help="统一社会信用代码.")]
RuleFilter = Annotated[str | None, typer.Option("--rule", help="A rule id.")]
MeasureFilter = Annotated[int | None, typer.Option("--measure", min=1, help="A measure, 1–12.")]
DistrictFilter = Annotated[District | None, typer.Option("--district", case_sensitive=False)]
YearFilter = Annotated[int | None, typer.Option("--year", help="A calendar year.")]
StatusFilter = Annotated[DecisionStatus | None, typer.Option("--status", case_sensitive=False)]
LatestOnly = Annotated[
    bool, typer.Option("--latest-only", help="Each entitlement's current decision only.")
]
PageSize = Annotated[
    int, typer.Option("--page-size", min=0, help="0: the server's default (capped at its max).")
]
PageToken = Annotated[
    str, typer.Option("--page-token", help="The token a previous page printed (same filters).")
]


def decisions_command(
    enterprise: EnterpriseFilter = None,
    rule: RuleFilter = None,
    measure: MeasureFilter = None,
    district: DistrictFilter = None,
    year: YearFilter = None,
    status: StatusFilter = None,
    latest_only: LatestOnly = False,
    page_size: PageSize = 0,
    page_token: PageToken = "",
    output_format: FormatOption = OutputFormat.table,
    lang: LangOption = Lang.zh,
    server: ServerOption = DEFAULT_GRPC_ADDRESS,
    token: TokenOption = None,
    cacert: CacertOption = None,
    cert: CertOption = None,
    key: KeyOption = None,
    plaintext: PlaintextOption = False,
) -> None:
    """A page of decisions, in the order they were decided, and the next page's token.

    The filters combine with AND. The next page token is printed under the table, in the JSON
    (nextPageToken), or on stderr with CSV; empty on the last page."""
    request = api_pb2.ListDecisionsRequest(
        enterprise_id=enterprise or "", rule_id=rule or "", measure=measure or 0,
        district=epb.District.Value(district.value) if district else epb.DISTRICT_UNSPECIFIED,
        year=year or 0, status=dpb.Status.Value(status.value) if status else dpb.STATUS_UNSPECIFIED,
        page_size=page_size, page_token=page_token, latest_only=latest_only,
    )  # fmt: skip
    transport = client_transport_or_exit(cacert, cert, key, plaintext)
    found = call_api(
        server, token, transport, lambda stub, auth: stub.ListDecisions(request, metadata=auth)
    )
    if output_format is OutputFormat.json:
        out.write_json(report.as_json(found))
    elif output_format is OutputFormat.csv:
        decisions_view.write_csv(found.decisions)
        typer.echo(f"next page token: {found.next_page_token}", err=True)
    else:
        decisions_view.print_page(out.console(), found, lang)


def verify_on_server(
    server: str, token: str | None, transport: ClientTransport
) -> api_pb2.VerifyChainResponse:
    """VerifyChain through the API (an auditor's token, no database login): its answer."""
    request = api_pb2.VerifyChainRequest()
    answer: api_pb2.VerifyChainResponse = call_api(
        server, token, transport, lambda stub, auth: stub.VerifyChain(request, metadata=auth)
    )
    return answer


def register(app: typer.Typer) -> None:
    """The query commands, on `subsidy ledger`."""
    app.command("statement")(statement_command)
    app.command("explain")(explain_command)
    app.command("totals")(totals_command)
    app.command("decisions")(decisions_command)
