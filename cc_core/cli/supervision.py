"""``cc-admin calls``, ``cc-admin spy``, ``cc-admin supervisor-token``: a supervisor picks a
call in progress and listens, whispers or barges from a terminal, through the ACD's API.
``cc-admin agent-token`` prints an agent's token for its phone or desktop.

    cc-admin supervisor-token sup-maria                  (an admin, once per supervisor)
    cc-admin agent-token ann                             (an admin, once per agent)
    export CC_SUPERVISOR_TOKEN=...  CC_ACD_URL=http://127.0.0.1:8080
    cc-admin calls                                       (connected calls; --state all)
    cc-admin spy 01J... --mode whisper --supervisor sup-maria

Exit status: 0 done, 1 the ACD refused (its message is printed), 2 the ACD could not be
reached or answered something that is not the API's JSON (or the configs have errors).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

import click

if TYPE_CHECKING:
    from cc_core.config.centre import CentreConfig

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2
EXIT_CONFIG = 2
TIMEOUT_S = 10.0

_api = click.option(
    "--api",
    "api_url",
    default="http://127.0.0.1:8080",
    show_default=True,
    envvar="CC_ACD_URL",
    help="The ACD's API (env CC_ACD_URL).",
)
_token = click.option(
    "--token",
    envvar="CC_SUPERVISOR_TOKEN",
    required=True,
    help="The supervisor's token (cc-admin supervisor-token; env CC_SUPERVISOR_TOKEN).",
)


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"cc-admin: {message}", err=True)
    sys.exit(code)


def call_api(
    api_url: str, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The API's JSON answer; exits with the ACD's own message when it refuses."""
    url = api_url.rstrip("/") + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        _fail(EXIT_UNREACHABLE, f"cannot reach the ACD at {api_url}: {reason}")
    try:
        answer = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        _fail(EXIT_UNREACHABLE, f"{method} {url}: HTTP {status}, not the ACD's JSON")
    if not isinstance(answer, dict):
        _fail(EXIT_UNREACHABLE, f"{method} {url}: HTTP {status}, not the ACD's JSON")
    if status >= 400:
        problem = answer.get("error")
        if isinstance(problem, dict):
            _fail(
                EXIT_REFUSED, f"refused ({status} {problem.get('code')}): {problem.get('message')}"
            )
        _fail(EXIT_REFUSED, f"refused ({status})")
    return answer


def _since(arrival: object) -> str:
    if not isinstance(arrival, int | float):
        return "-"
    seconds = max(0, int(time.time() - arrival))
    return f"{seconds // 60}:{seconds % 60:02d}"


@click.command()
@click.option(
    "--state",
    default="connected",
    show_default=True,
    help="Only calls in this state (queued, offered, connected, wrap_up...); 'all' for every "
    "call in progress.",
)
@_api
@_token
def calls(state: str, api_url: str, token: str) -> None:
    """List the calls in progress, to pick one for `cc-admin spy`."""
    query = "" if state == "all" else f"?state={quote(state)}"
    answer = call_api(api_url, "GET", f"/api/interactions{query}", token)
    rows = answer.get("interactions")
    if not isinstance(rows, list):
        _fail(EXIT_UNREACHABLE, "the ACD's answer has no interactions list")
    if not rows:
        click.echo("no calls" if state == "all" else f"no {state} calls")
        return
    header = ("INTERACTION", "STATE", "QUEUE", "AGENT", "SINCE ARRIVAL")
    table = [header] + [
        (
            str(r.get("interaction_id")),
            str(r.get("state")),
            str(r.get("queue")),
            "-" if r.get("agent_id") is None else f"{r.get('agent_name')} ({r.get('agent_id')})",
            _since(r.get("arrival")),
        )
        for r in rows
        if isinstance(r, dict)
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@click.command()
@click.argument("interaction")
@click.option(
    "--mode",
    required=True,
    type=click.Choice(["listen", "whisper", "barge"]),
    help="listen: hear both sides; whisper: the agent hears you; barge: both hear you.",
)
@click.option(
    "--supervisor",
    required=True,
    envvar="CC_SUPERVISOR",
    help="Your supervisor id or phone (agents.yaml: sup-maria, PJSIP/1900 or 1900).",
)
@_api
@_token
def spy(interaction: str, mode: str, supervisor: str, api_url: str, token: str) -> None:
    """Ring your phone into INTERACTION's call (from `cc-admin calls`) in MODE."""
    answer = call_api(
        api_url,
        "POST",
        f"/api/interactions/{quote(interaction, safe='')}/spy",
        token,
        {"supervisor": supervisor, "mode": mode},
    )
    click.echo(
        f"{answer.get('endpoint')} is ringing: {answer.get('mode')} on agent "
        f"{answer.get('agent_id')} (interaction {answer.get('interaction_id')}, spy call "
        f"{answer.get('spy_call')}); hang up to stop"
    )


def _configs_with_secret(config_dir: Path) -> tuple[CentreConfig, str]:
    """The configs and api.agent_secret, which every token is derived from (exits without)."""
    from cc_core.config import ConfigError, load_configs

    try:
        config = load_configs(config_dir)
    except ConfigError as exc:
        _fail(EXIT_CONFIG, f"the configuration has errors:\n{exc}")
    secret = config.acd.api.agent_secret
    if not secret:
        _fail(EXIT_REFUSED, f"{config_dir / 'acd.yaml'}: api.agent_secret is not set")
    return config, secret


@click.command("supervisor-token")
@click.argument("supervisor")
@click.option("--configs", "config_dir", default="configs", type=click.Path(path_type=Path))
def supervisor_token(supervisor: str, config_dir: Path) -> None:
    """Print SUPERVISOR's API token (from api.agent_secret in CONFIG_DIR/acd.yaml)."""
    from cc_core.acd import supervision

    config, secret = _configs_with_secret(config_dir)
    found = supervision.find_supervisor(config.agents.supervisors, supervisor)
    if found is None:
        known = ", ".join(s.id for s in config.agents.supervisors) or "none"
        _fail(EXIT_REFUSED, f"no supervisor {supervisor!r} in agents.yaml (known: {known})")
    click.echo(supervision.supervisor_token(secret, found.id))


@click.command("agent-token")
@click.argument("agent")
@click.option("--configs", "config_dir", default="configs", type=click.Path(path_type=Path))
def agent_token(agent: str, config_dir: Path) -> None:
    """Print AGENT's API token (from api.agent_secret in CONFIG_DIR/acd.yaml)."""
    from cc_core.acd import agent_quality

    config, secret = _configs_with_secret(config_dir)
    known = [a.id for a in config.agents.agents]
    if agent not in known:
        _fail(EXIT_REFUSED, f"no agent {agent!r} in agents.yaml (known: {', '.join(known)})")
    click.echo(agent_quality.agent_token(secret, agent))
