"""Subscriptions: who hears about decisions, validated the same way from a file or the admin API."""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import TypeAdapter, ValidationError

from subsidy.api.v1 import api_pb2
from subsidy.domain.catalog import Catalog
from subsidy.domain.enums import District
from subsidy.domain.events import EnterpriseId
from subsidy.domain.payouts.funding import district_channel
from subsidy.notifier.messages import LANGUAGES, Language

Kind = Literal["enterprise", "bureau"]

# RFC 5322 dot-atom local part and a dotted host name: strict enough to keep header
# injection and typos out, without pretending to know whether the mailbox exists.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_MAX_EMAIL = 254
_MAX_URL = 2048
_ENTERPRISE_ID = TypeAdapter(EnterpriseId)

# File keys: protobuf's JSON names (the contract's convention) and the proto field names.
_KEYS = {
    "enterpriseId": "enterprise_id",
    "enterprise_id": "enterprise_id",
    "bureau": "bureau",
    "webhookUrl": "webhook_url",
    "webhook_url": "webhook_url",
    "email": "email",
    "language": "language",
}


@dataclass(frozen=True, slots=True)
class Subscription:
    """A validated subscription: one subscriber, a webhook and/or an email, a language."""

    kind: Kind
    subscriber: str
    webhook_url: str | None
    email: str | None
    language: Language

    def to_proto(self) -> api_pb2.Subscription:
        """As the admin API returns it."""
        return api_pb2.Subscription(
            enterprise_id=self.subscriber if self.kind == "enterprise" else "",
            bureau=self.subscriber if self.kind == "bureau" else "",
            webhook_url=self.webhook_url or "",
            email=self.email or "",
            language=self.language,
        )


class SubscriptionError(ValueError):
    """A subscription breaks a rule; the message names every offending field."""

    def __init__(self, errors: list[str], where: str = "") -> None:
        self.errors = errors
        prefix = f"{where}: " if where else ""
        super().__init__(prefix + "; ".join(errors))


def bureaus_of(catalog: Catalog) -> frozenset[str]:
    """Every responsible unit (责任单位) the catalog names: the bureaus decisions reach."""
    return frozenset(unit for rule in catalog.rules for unit in rule.responsible_units)


def subscribable(catalog: Catalog) -> frozenset[str]:
    """The valid bureau names: the responsible units, and every district's finance bureau
    (e.g. 苏州工业园区财政局), a payouts channel that hears of its own budget's alerts."""
    return bureaus_of(catalog) | {district_channel(d) for d in District}


def _text(value: object, field: str, errors: list[str]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(f"{field}: must be a string")
        return ""
    return value.strip()


def _check_url(url: str) -> str | None:
    if len(url) > _MAX_URL:
        return f"longer than {_MAX_URL} characters"
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as err:
        return f"not a valid URL: {err}"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "must name a host"
    return None


def validate(
    raw: Mapping[str, object],
    *,
    bureaus: frozenset[str],
    has_secret: Callable[[str], bool],
    where: str = "",
) -> Subscription:
    """A Subscription from proto-named fields (enterprise_id, bureau, webhook_url, email,
    language); SubscriptionError listing every problem otherwise."""
    errors: list[str] = []
    enterprise_id = _text(raw.get("enterprise_id"), "enterpriseId", errors)
    bureau = _text(raw.get("bureau"), "bureau", errors)
    webhook_url = _text(raw.get("webhook_url"), "webhookUrl", errors)
    email = _text(raw.get("email"), "email", errors)
    language = _text(raw.get("language"), "language", errors).lower() or "zh"

    kind: Kind = "enterprise"
    subscriber = ""
    if bool(enterprise_id) == bool(bureau):
        errors.append("exactly one of enterpriseId or bureau is required")
    elif enterprise_id:
        try:
            subscriber = _ENTERPRISE_ID.validate_python(enterprise_id)
        except ValidationError as err:
            errors.append(f"enterpriseId: {err.errors()[0]['msg']}")
    else:
        kind, subscriber = "bureau", bureau
        if bureau not in bureaus:
            errors.append(
                f"bureau: {bureau!r} is not a responsible unit of any rule nor a district's"
                f" finance bureau (one of {', '.join(sorted(bureaus))})"
            )
    if not webhook_url and not email:
        errors.append("at least one of webhookUrl or email is required")
    if webhook_url:
        problem = _check_url(webhook_url)
        if problem:
            errors.append(f"webhookUrl: {problem}")
        elif subscriber and not has_secret(subscriber):
            # Secrets live in configuration, never in the subscription: refuse a webhook
            # that could not be signed rather than send it unsigned.
            errors.append(
                f"webhookUrl: no webhook secret is configured for {subscriber!r} "
                "(set it in NOTIFIER_WEBHOOK_SECRETS)"
            )
    if email and (len(email) > _MAX_EMAIL or not _EMAIL.match(email)):
        errors.append(f"email: {email!r} is not a valid e-mail address")
    if language not in LANGUAGES:
        errors.append(f"language: must be zh or en, got {language!r}")
    if errors:
        raise SubscriptionError(errors, where)
    return Subscription(
        kind=kind,
        subscriber=subscriber,
        webhook_url=webhook_url or None,
        email=email or None,
        language="en" if language == "en" else "zh",
    )


def from_proto(message: api_pb2.Subscription) -> dict[str, object]:
    """The admin API's message as proto-named fields, for `validate`."""
    return {
        "enterprise_id": message.enterprise_id,
        "bureau": message.bureau,
        "webhook_url": message.webhook_url,
        "email": message.email,
        "language": message.language,
    }


def _entry(raw: Any, where: str) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise SubscriptionError(["must be a mapping"], where)
    fields: dict[str, object] = {}
    errors = []
    for key, value in raw.items():
        if key in ("webhookSecret", "webhook_secret", "secret"):
            errors.append(f"{key}: secrets are not kept in subscription files; "
                          "configure NOTIFIER_WEBHOOK_SECRETS")  # fmt: skip
        elif key not in _KEYS:
            errors.append(f"unknown key {key!r}")
        else:
            fields[_KEYS[key]] = value
    if errors:
        raise SubscriptionError(errors, where)
    return fields


def parse_file(
    path: Path, *, bureaus: frozenset[str], has_secret: Callable[[str], bool]
) -> list[Subscription]:
    """Every subscription of a YAML or JSON file (a list, or a mapping with `subscriptions`);
    SubscriptionError naming each bad entry, so a file is taken whole or not at all."""
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise SubscriptionError([f"cannot read: {err}"], str(path)) from None
    if isinstance(doc, dict) and set(doc) == {"subscriptions"}:
        doc = doc["subscriptions"]
    if not isinstance(doc, list):
        raise SubscriptionError(["must be a list of subscriptions (or {subscriptions: […]})"],
                                str(path))  # fmt: skip
    found: list[Subscription] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(doc):
        where = f"subscriptions[{index}]"
        try:
            sub = validate(_entry(raw, where), bureaus=bureaus, has_secret=has_secret, where=where)
        except SubscriptionError as err:
            errors.append(str(err))
            continue
        key = (sub.kind, sub.subscriber)
        if key in seen:
            errors.append(f"{where}: {sub.subscriber} is already subscribed at [{seen[key]}]")
            continue
        seen[key] = index
        found.append(sub)
    if errors:
        raise SubscriptionError(errors, str(path))
    return found
