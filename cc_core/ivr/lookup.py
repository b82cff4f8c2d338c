"""The ``lookup`` node's HTTP JSON client (injected into the interpreter, so tests and
``cc-admin ivr try`` can run without a customer system)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp

MAX_BODY_BYTES = 256 * 1024


class LookupFailed(Exception):
    """The customer system did not give a usable answer; the message says why."""


class LookupClient(Protocol):
    async def fetch(self, method: str, url: str, body: Mapping[str, str] | None,
                    deadline_s: float) -> Any:
        """The decoded JSON answer; raises :class:`LookupFailed`."""
        ...


class HttpLookupClient:
    """aiohttp with a per-request deadline; one shared connection pool per client."""

    def __init__(self, session: aiohttp.ClientSession | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        self._session = session
        self._own = session is None
        self._headers = dict(headers or {})

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HttpLookupClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def fetch(self, method: str, url: str, body: Mapping[str, str] | None,
                    deadline_s: float) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        try:
            async with asyncio.timeout(deadline_s):
                async with self._session.request(
                    method, url, json=dict(body) if body is not None else None,
                    headers={"Accept": "application/json"},
                ) as response:
                    if response.status != 200:
                        raise LookupFailed(f"HTTP {response.status} from {url}")
                    raw = await response.content.read(MAX_BODY_BYTES + 1)
        except TimeoutError:
            raise LookupFailed(f"no answer from {url} within {deadline_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise LookupFailed(f"{url}: {type(exc).__name__}: {exc}") from None
        if len(raw) > MAX_BODY_BYTES:
            raise LookupFailed(f"answer from {url} is over {MAX_BODY_BYTES} bytes")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LookupFailed(f"answer from {url} is not JSON ({exc})") from None


class OfflineLookup:
    """For dry runs: every lookup fails, so the script takes its fallback path."""

    async def fetch(self, method: str, url: str, body: Mapping[str, str] | None,
                    deadline_s: float) -> Any:
        raise LookupFailed(f"offline: {method} {url} not sent")


def pick(answer: Any, path: str) -> str | None:
    """Value at a dotted path (``customer.tier``, ``accounts.0.id``) as text; None if absent
    or not a plain value."""
    node = answer
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int | float | str):
        return str(node)
    return None
