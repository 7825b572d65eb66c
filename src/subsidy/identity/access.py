"""Which roles a person's session may call each gRPC method with (full method name → roles)."""

# docs/security.md shows this table, and a test keeps the two equal.

from collections.abc import Mapping

from subsidy.identity.principal import Role

_E, _R, _A, _AU = Role.ENTERPRISE, Role.REVIEWER, Role.APPROVER, Role.AUDITOR
LEDGER = "/subsidy.api.v1.LedgerService/"
INGEST = "/subsidy.api.v1.IngestService/"
WORKBENCH = "/subsidy.api.v1.WorkbenchService/"

# A method absent here is refused to every session (PERMISSION_DENIED): a new method is
# closed until it is given a row. What a role may do inside a method it may call (an
# enterprise's own data only, a reviewer's bureau's rules only) is checked by the service.
# Admins administer credentials with `subsidy identity` and read no enterprise data.
ACCESS: Mapping[str, frozenset[Role]] = {
    # An enterprise reads its own; reviewers and approvers read statements and explanations
    # for the cases they work (any enterprise: a case may name any); auditors read all.
    LEDGER + "GetStatement": frozenset({_E, _R, _A, _AU}),
    LEDGER + "ListDecisions": frozenset({_E, _AU}),
    LEDGER + "ExplainDecision": frozenset({_E, _R, _A, _AU}),
    LEDGER + "GetTotals": frozenset({_AU}),
    LEDGER + "VerifyChain": frozenset({_AU}),
    # Each role only the payloads its binding allows (subsidy.ingest.permissions).
    INGEST + "Submit": frozenset({_E, _R, _A}),
    INGEST + "SubmitBatch": frozenset({_E, _R, _A}),
    # A bureau's own queues (the workbench checks the bureau); auditors any.
    WORKBENCH + "ListQueue": frozenset({_R, _A, _AU}),
    WORKBENCH + "GetQueueCounts": frozenset({_R, _A, _AU}),
    WORKBENCH + "SearchEnterprises": frozenset({_R, _A, _AU}),
}


def allowed(method: str) -> frozenset[Role]:
    """The roles whose sessions may call `method` (none if it has no row)."""
    return ACCESS.get(method, frozenset())


def markdown_table() -> str:
    """The matrix as docs/security.md shows it: one row per method, one column per role."""
    roles = list(Role)
    lines = [
        "| method | " + " | ".join(r.value for r in roles) + " |",
        "|---|" + "---|" * len(roles),
    ]
    for method, granted in ACCESS.items():
        cells = " | ".join("yes" if r in granted else "—" for r in roles)
        lines.append(f"| `{method.strip('/')}` | {cells} |")
    return "\n".join(lines)
