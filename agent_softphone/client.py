"""The softphone's side of the ACD's REST API: presence, wrap-up, edge reports, screen-pop.
Every request carries the agent's token when the phone has one; reports and screen-pops
are refused here without it.

Plain blocking HTTP (urllib) with a short timeout: the phone calls it from its own threads,
never from the SIP thread, and an ACD that does not answer costs a report, not the call.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from cc_core.acd.agent_quality import EdgeReport

TIMEOUT_S = 5.0


class AcdError(RuntimeError):
    """The ACD refused a request or could not be reached; the message says which and why."""

    def __init__(self, status: int | None, code: str, message: str) -> None:
        super().__init__(f"{status or 'no answer'} {code}: {message}")
        self.status = status
        self.code = code


class AcdClient:
    def __init__(
        self, base_url: str, agent_id: str, token: str | None = None, *, timeout: float = TIMEOUT_S
    ) -> None:
        self.base = base_url.rstrip("/")
        self.agent_id = agent_id
        self.token = token
        self.timeout = timeout

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, auth: bool = False
    ) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if auth and not self.token:
            raise AcdError(
                None,
                "no_token",
                "this request needs the agent's token (--token or CC_AGENT_TOKEN)",
            )
        if self.token:
            # Presence and the agent's snapshot need it too once the ACD has api.agent_secret.
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return dict(json.loads(resp.read() or b"{}"))
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read())["error"]
                code, message = str(err["code"]), str(err["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "http_error", exc.reason
            raise AcdError(exc.code, code, message) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AcdError(None, "unreachable", f"{self.base}: {exc}") from None

    def _agent(self, tail: str = "") -> str:
        return f"/api/agents/{urllib.request.quote(self.agent_id, safe='')}{tail}"

    def me(self) -> dict[str, Any]:
        return self._request("GET", self._agent())

    def login(self, state: str = "ready", reason: str | None = None) -> dict[str, Any]:
        return self._request("POST", self._agent("/login"), _state(state, reason))

    def logout(self) -> dict[str, Any]:
        return self._request("POST", self._agent("/logout"), {})

    def set_state(self, state: str, reason: str | None = None) -> dict[str, Any]:
        return self._request("PUT", self._agent("/state"), _state(state, reason))

    def wrap_up_done(self) -> dict[str, Any]:
        return self._request("POST", self._agent("/wrap-up/end"), {})

    def report(self, report: EdgeReport) -> dict[str, Any]:
        return self._request("POST", self._agent("/quality"), report.to_json(), auth=True)

    def quality(self) -> dict[str, Any]:
        return self._request("GET", self._agent("/quality"), auth=True)

    def screen_pop(self) -> dict[str, Any]:
        return self._request("GET", self._agent("/screen-pop"), auth=True)


def _state(state: str, reason: str | None) -> dict[str, Any]:
    return {"state": state, **({"reason": reason} if reason else {})}
