"""Who holds the dashboard's event streams: at most so many per client address and in all."""

from collections import Counter
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Literal

from aiohttp import web

from subsidy.dashboard import metrics

Network = IPv4Network | IPv6Network
Refusal = Literal["per_client", "total"]
# When a refused stream may try again (the page waits about this long by itself).
RETRY_AFTER_S = 30


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks (`10.0.0.0/8, ::1`); ValueError names a bad one."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            try:
                networks.append(ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {part!r}") from None
    return tuple(networks)


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        return any(ip_address(address) in n for n in networks)
    except ValueError:
        return False


def client_address(request: web.Request, proxies: Sequence[Network]) -> str:
    """The address a stream is counted against: the peer, unless the peer is a trusted proxy;
    then the right-most X-Forwarded-For hop that is not one (hops further left are the
    client's own claim, which anyone can write)."""
    peer = request.remote or "unknown"
    if not _within(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed(hops):
        if not _within(hop, proxies):
            return hop if _valid(hop) else peer
    return peer


def _valid(address: str) -> bool:
    try:
        ip_address(address)
    except ValueError:
        return False
    return True


class StreamGate:
    """Counts open streams by client; admits one more only within both limits."""

    def __init__(self, total: int, per_client: int, proxies: Sequence[Network] = ()) -> None:
        self.total_limit = total
        self.per_client_limit = per_client
        self.proxies = tuple(proxies)
        self._open: Counter[str] = Counter()
        self.open = 0

    def client(self, request: web.Request) -> str:
        """The client address the request's stream counts against."""
        return client_address(request, self.proxies)

    def admit(self, client: str) -> Refusal | None:
        """None, and the stream counted, if it may open; otherwise which limit it hit."""
        if self.open >= self.total_limit:
            return "total"
        if self._open[client] >= self.per_client_limit:
            return "per_client"
        self._open[client] += 1
        self.open += 1
        return None

    def release(self, client: str) -> None:
        """A stream of this client ended."""
        self.open -= 1
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]


def refused(reason: Refusal) -> web.Response:
    """The answer to a stream over a limit (429 per client, 503 in all), counted."""
    metrics.STREAMS_REFUSED.labels(reason).inc()
    if reason == "per_client":
        status, error = 429, "too many event streams from this address"
    else:
        status, error = 503, "too many event streams"
    return web.json_response(
        {"error": error},
        status=status,
        headers={"Retry-After": str(RETRY_AFTER_S), "Cache-Control": "no-store"},
    )
