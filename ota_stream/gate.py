"""`ota-stream gate`: a CI step that waits for a release's health verdict.

It asks `GET /analytics/releases/{version}/health` with a read key (`OTA_STREAM_URL`, `OTA_STREAM_READ_KEY`; the
tenant is the key's) every POLL_SECONDS until the verdict is `pass` or `fail` or `--wait` runs out, prints the
verdict and its reasons, and exits 0 on pass, 1 on fail, 2 without a verdict in time. A refusal that waiting cannot
cure (a bad key, a bad parameter: any 4xx but 429) ends it at once with 2; anything else (the service restarting,
ClickHouse away, a 429) is retried until the wait ends.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

PASS, FAIL = "pass", "fail"
EXIT = {PASS: 0, FAIL: 1}
NO_VERDICT = 2
POLL_SECONDS = 15.0
REQUEST_TIMEOUT_SECONDS = 30.0
_WAIT = re.compile(r"^(\d+(?:\.\d+)?)([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


def wait_seconds(text: str) -> float:
    """`30s`, `30m` or `2h` as seconds; ValueError otherwise."""
    found = _WAIT.match(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration: a number followed by s, m or h (30m)")
    return float(found.group(1)) * _UNITS[found.group(2)]


@dataclass
class Outcome:
    """The last answer: its verdict (None without one) and the lines to print."""

    verdict: str | None
    lines: list[str]
    final: bool = False  # no point in asking again


def read(status: int, body: Any) -> Outcome:
    """What one answer of the health route means for the gate."""
    if status == 200 and isinstance(body, dict) and isinstance(body.get("data"), dict):
        data = body["data"]
        verdict = data.get("verdict")
        lines = [f"verdict: {verdict} ({data.get('version')}, {data.get('devices_attempted')} devices)"]
        lines += [f"- {reason}" for reason in data.get("reasons", [])]
        return Outcome(verdict, lines, verdict in EXIT)
    error = body.get("error", {}) if isinstance(body, dict) else {}
    message = error.get("message", "no JSON error") if isinstance(error, dict) else str(error)
    lines = [f"HTTP {status}: {message}"]
    for detail in error.get("details", []) if isinstance(error, dict) else []:
        lines.append(f"- {detail.get('field')}: {detail.get('message')}")
    return Outcome(None, lines, 400 <= status < 500 and status != 429)


async def ask(session: aiohttp.ClientSession, url: str, key: str, params: dict[str, str]) -> Outcome:
    try:
        headers = {"Authorization": f"Bearer {key}"}
        async with session.get(url, params=params, headers=headers) as answer:
            try:
                body = await answer.json(content_type=None)
            except ValueError:
                body = None
            return read(answer.status, body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Outcome(None, [f"no answer from {url}: {type(exc).__name__} {exc}".rstrip()])


async def poll(
    base_url: str,
    key: str,
    version: str,
    params: dict[str, str],
    wait: float,
    say: Callable[[str], None],
    interval: float = POLL_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Ask until a verdict, a refusal, or the end of `wait`; returns the exit status."""
    url = f"{base_url.rstrip('/')}/analytics/releases/{quote(version, safe='')}/health"
    deadline = time.monotonic() + wait
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while True:
            outcome = await ask(session, url, key, params)
            left = deadline - time.monotonic()
            if outcome.final or left <= 0:
                for line in outcome.lines:
                    say(line)
                return EXIT.get(outcome.verdict or "", NO_VERDICT)
            say(f"{outcome.lines[0]}; asking again in {min(interval, left):.0f} s")
            await sleep(min(interval, left))
