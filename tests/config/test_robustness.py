"""Any value in any place gives problems, never an exception: every key path of a complete
centre is replaced in turn by values of the wrong kind."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cc_core.config.loader import collect
from tests.config.conftest import MINIMAL

JUNK: list[Any] = ["x", 7, None, [1], {"zz": 1}]

CHANNELS = {
    "email": {
        "listen": {"host": "127.0.0.1", "port": 12525},
        "allowed_domains": ["example.com"],
        "imap": {"host": "127.0.0.1", "username": "u", "password": "p"},
        "smarthost": {"host": "127.0.0.1"},
        "addresses": {"billing@example.com": "billing", "tech@example.com": "tech"},
    },
    "chat": {"origins": ["http://127.0.0.1"], "queue": "tech"},
}


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(data)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def documents() -> dict[str, Any]:
    """The minimal centre with every optional section filled in, so each gets replaced too."""
    docs = {p.name: yaml.safe_load(p.read_text()) for p in MINIMAL.glob("*.yaml")}
    docs["channels.yaml"] = CHANNELS
    docs["acd.yaml"]["logging"] = {"level": "INFO", "json": True, "mask_pii": True}
    docs["acd.yaml"]["live_state"] = {"backend": "redis", "redis_url": "redis://127.0.0.1/0"}
    agents = docs["agents.yaml"]
    agents["capacity_profiles"] = {
        "small": {"voice": 1, "chat": 1, "email": 2, "exclusive": ["voice"]}}
    agents["supervisors"] = [{"id": "sup", "name": "Sup", "endpoint": "PJSIP/1900"}]
    agents["agents"][0].update(profile="small", capacity={"chat": 2}, video=True,
                               team="t", supervisor="sup")
    billing, tech = docs["queues.yaml"]["queues"]
    billing.update(channels=["voice", "email"], strategy="random", seed=3, priority=5,
                   aging_rate=1.0, vip_boost=2.0, sla={"percent": 80, "seconds": 20},
                   sla_aware=True, max_wait_seconds=60, overflow={"queue": "tech"},
                   wrap_up_seconds=5, sticky={"days": 2, "max_wait_seconds": 10},
                   quality={"min_score": 0.5, "weight": 0.5}, ring_timeout_seconds=15,
                   no_answer_limit=1, csat_survey=True)
    tech.update(channels=["voice", "chat", "email"], max_wait_seconds=60,
                overflow={"exit": "hangup"})
    docs["queues.yaml"]["numbers"] = [{"did": "+4930123", "queue": "tech"}]
    return docs


@pytest.mark.parametrize("name", sorted(documents()))
def test_wrong_values_anywhere_never_raise(name: str, tmp_path: Path) -> None:
    docs = documents()
    for other, data in docs.items():
        (tmp_path / other).write_text(yaml.safe_dump(data))
    assert not collect(tmp_path, environ={}).problems, "the starting point must be clean"
    target = tmp_path / name
    for path in paths(docs[name]):
        for junk in JUNK:
            target.write_text(yaml.safe_dump(replaced(docs[name], path, junk)))
            collect(tmp_path, environ={})  # must not raise, whatever it reports
    target.write_text(yaml.safe_dump(docs[name]))
