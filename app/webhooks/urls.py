"""Which URLs a webhook may be sent to.

`https` is required in production. Addresses that are not globally routable (loopback, private, link-local,
shared, reserved, multicast) are refused unless WEBHOOK_ALLOW_PRIVATE_URLS=true, both when the endpoint is saved
and at every delivery: a name that resolved to a public address when saved may resolve to an internal one later
(DNS rebinding), so the sender resolves the name itself, checks every address and connects to a checked address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.core.config import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_RESOLVE_TIMEOUT = 5.0
_CACHE_SECONDS = 30.0
_resolved: dict[tuple[str, int], tuple[float, list[IPAddress]]] = {}


class UrlRefused(Exception):
    """`code` says why, for the 422's field error and for a delivery's error text."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written, without brackets
    port: int


def parse(url: str) -> Target:
    """The URL's parts, or UrlRefused for one no endpoint may have (checked before any lookup)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused("not a valid URL", "invalid_url") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused("must be an absolute http or https URL", "invalid_url")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("must not carry credentials; verify the signature instead", "url_credentials")
    if parts.fragment:
        raise UrlRefused("must not have a fragment", "invalid_url")
    try:
        parts.hostname.encode("idna")  # what name resolution does with it: a host it cannot encode names nothing
    except UnicodeError as exc:
        raise UrlRefused("the host is not a valid domain name", "invalid_url") from exc
    if scheme != "https" and get_settings().environment == "production":
        raise UrlRefused("must use https", "https_required")
    return Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _check(addresses: list[IPAddress]) -> list[IPAddress]:
    if not addresses:
        raise UrlRefused("the host name does not resolve", "url_unresolvable")
    for ip in addresses:
        if not is_public(ip):
            raise UrlRefused(f"resolves to a non-public address ({ip}); webhooks go to public addresses only",
                             "url_not_public")
    return addresses


async def resolve(target: Target) -> list[IPAddress]:
    """Every address of the host (kept 30 s), checked; UrlRefused when one is not public."""
    literal = _literal(target.host)
    if literal is not None:
        return _check([literal])
    key = (target.host.lower(), target.port)
    now = time.monotonic()
    hit = _resolved.get(key)
    if hit is not None and hit[0] > now:
        return _check(hit[1])
    try:
        infos = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM), _RESOLVE_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise UrlRefused("the host name does not resolve", "url_unresolvable") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if len(_resolved) > 10_000:
        _resolved.clear()
    _resolved[key] = (now + _CACHE_SECONDS, addresses)
    return _check(addresses)


async def check_url(url: str) -> Target:
    """For saving an endpoint: the URL's form, and unless private addresses are allowed, its addresses."""
    target = parse(url)
    if not get_settings().webhook_allow_private_urls:
        await resolve(target)
    return target
