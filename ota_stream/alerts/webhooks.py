"""Webhook URLs are user input that points anywhere: checked when a rule is made and again at every delivery.

Only http(s) URLs with a host and no credentials are accepted. Unless ALERT_WEBHOOK_ALLOW_PRIVATE=true, every
address the host resolves to must be a global one: loopback, link-local (cloud metadata at 169.254.169.254
included), private, shared (100.64/10), multicast, reserved and unspecified addresses are refused, and so are
IPv6 addresses that wrap one of them (mapped, compatible, NAT64, 6to4, Teredo). At delivery the check runs inside
the HTTP client's resolver (`GuardedResolver`), so the addresses checked are the addresses connected to: a name
that resolved to a public address when the rule was made and to a private one later (DNS rebinding) is refused
then. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ota_stream.errors import OtaStreamError

RESOLVE_TIMEOUT_SECONDS = 5.0
SIGNATURE_HEADER = "X-OTA-Signature"
ID_HEADER = "X-OTA-Notification-Id"
USER_AGENT = "ota-stream-alerts/1"


@dataclass(frozen=True)
class Target:
    """Where a notification goes, the secret it is signed with, and whose it is (a rule or a guard, for logs)."""

    url: str
    secret: str
    owner: str


class WebhookRefused(OtaStreamError):
    """The URL or an address it resolves to may not be called; the message says why, for a 422 or a log line."""


def parse(url: str) -> SplitResult:
    """The parts of a webhook URL of an acceptable shape, or WebhookRefused."""
    if not url.isascii() or any(c.isspace() or ord(c) < 0x20 for c in url):
        raise WebhookRefused("must be an ASCII URL without spaces (use punycode and percent-encoding)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise WebhookRefused(f"is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookRefused("must start with https:// or http://")
    if not parts.hostname:
        raise WebhookRefused("needs a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("must not hold credentials: deliveries are authenticated by their signature")
    return parts


# IPv6 ranges that carry an IPv4 address in their last 32 bits: IPv4-compatible (deprecated) and NAT64's
# well-known prefix. A NAT64 gateway, or a host that still routes ::a.b.c.d, connects to that IPv4 address.
_LOW_BITS_IPV4 = (ipaddress.IPv6Network("::/96"), ipaddress.IPv6Network("64:ff9b::/96"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
    (64:ff9b::a.b.c.d), 6to4 (2002:aabb:ccdd::/48) and Teredo (2001::/32: its server and its client)."""
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if any(ip in network for network in _LOW_BITS_IPV4) and int(ip) > 1:  # not :: or ::1
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in found if address is not None]


def refusal(address: str) -> str | None:
    """Why an IP address may not be called, or None when it is a global unicast address. An IPv6 address that
    wraps an IPv4 one is judged by that one too: 2002:7f00:1::1 (6to4) reaches 127.0.0.1."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope (fe80::1%eth0) is not part of it
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        for wrapped in embedded_ipv4(ip):
            reason = refusal(str(wrapped))
            if reason is not None:
                return f"{reason} (wrapped in {ip})"
        if ip.ipv4_mapped is not None:
            return None  # ::ffff:a.b.c.d is a.b.c.d, which has passed
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_private or ip.is_multicast or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return f"{ip} is not a public address"
    return None


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def check_destination(url: str, allow_private: bool, resolve: bool = True) -> None:
    """Raise WebhookRefused unless `url` is well formed and (unless allowed) resolves to public addresses only.

    `resolve=False` checks IP literals only, for deliveries: `GuardedResolver` checks names as it connects.
    """
    parts = parse(url)
    host = parts.hostname or ""
    if allow_private:
        return
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    elif not resolve:
        return
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS
            )
        except (OSError, TimeoutError, UnicodeError):
            raise WebhookRefused(f"the host {host} does not resolve") from None
        addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            raise WebhookRefused(f"the host {host} resolves to {reason}")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to any address `refusal` names (IP literals never reach a
    resolver: `check_destination` checks those before the request)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for info in found:
            reason = refusal(info["host"])
            if reason is not None:
                raise WebhookRefused(f"the host {host} resolves to {reason}")
        return found

    async def close(self) -> None:
        await self._inner.close()


def sign(secret: str, body: bytes) -> str:
    """The X-OTA-Signature value: sha256=<hex HMAC-SHA256 of the body, keyed with the rule's secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookClient:
    """One HTTP session for every delivery of this worker; `post` makes one attempt and never raises."""

    def __init__(self, timeout_seconds: float, allow_private: bool) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            resolver: Any = None if self.allow_private else GuardedResolver()
            connector = aiohttp.TCPConnector(resolver=resolver, limit=100, ttl_dns_cache=10)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, trust_env=False)
        return self._session

    async def post(self, url: str, secret: str, notification_id: str, body: bytes) -> str | None:
        """Deliver once; None when the receiver answered 2xx, else what went wrong (for the log)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(secret, body),
            ID_HEADER: notification_id,
        }
        try:
            await check_destination(url, self.allow_private, resolve=False)
            async with self._client().post(url, data=body, headers=headers, allow_redirects=False) as answer:
                await answer.read()
                return None if 200 <= answer.status < 300 else f"HTTP {answer.status}"
        except asyncio.CancelledError:
            raise
        except WebhookRefused as exc:
            return f"refused: {exc}"
        except Exception as exc:  # connection refused, timeouts, TLS errors, a resolver that refused
            return type(exc).__name__

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
