"""A retraction withdraws only an event of its own source, as a correction keeps its source."""

# A feed bound to eventRetracted cannot withdraw another source's revocation (and so give back a
# grant the certifying body took away), nor a bureau's review.

from subsidy.domain.catalog import load_catalog
from tests.factories import event, jsonl
from tests.ledger_rules.backends import Backend


async def test_a_feed_cannot_retract_another_sources_revocation(backend: Backend) -> None:
    events = [
        event("certificationObtained",
              {"kind": "MUNICIPAL_KEY_LAB", "itemId": "lab-xs", "certificateId": "C-XS"},
              eventId="xs1", source="sz-miit-portal"),
        event("certificationRevoked", {"itemId": "lab-xs", "reason": "复核不合格"},
              eventId="xs2", source="js-provincial-cert-feed", occurredOn="2025-08-01"),
        event("eventRetracted", {"eventRef": "xs2", "reason": "误报"},
              eventId="xs3", source="sz-sci-tech-portal", occurredOn="2025-08-02"),
    ]  # fmt: skip
    result = await backend.run(jsonl(events), load_catalog())
    (ent,) = result["entitlements"]
    assert (ent["status"], ent["grantedFen"]) == ("REVOKED", 0)
    assert [r["eventId"] for r in result["rejectedEvents"]] == ["xs3"]
