"""The shipped files agree with each other, with the Asterisk adapter's names and with the
example configs: what an admin installs together must fit together."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import yaml

from pbx.asterisk import commands
from pbx.asterisk.settings import AsteriskSettings
from pbx.sim.dialplan.errors import DialplanError
from pbx.sim.dialplan.model import Dialplan
from pbx.sim.runtime import SimConfig, Simulator
from tests.dialplan.asterisk_conf import Section, of_type, read_conf
from tests.dialplan.conftest import (
    EXTENSIONS,
    EXTENSIONS_CC,
    MANAGER,
    MUSICONHOLD,
    PJSIP,
    ROOT,
    manager_account,
)

# The class(es) Asterisk 22 registers each AMI action under (manager.c, app_mixmonitor.c);
# a user may run an action when any one of them is in its write= list. 0 = anyone logged in.
ACTION_CLASSES: dict[str, set[str]] = {
    "Login": set(),
    "Logoff": set(),
    "Ping": set(),
    "Events": set(),
    "Redirect": {"call"},
    "Setvar": {"call"},
    "Getvar": {"call", "reporting"},
    "Hangup": {"system", "call"},
    "Status": {"system", "call", "reporting"},
    "Originate": {"originate"},
    "CoreShowChannels": {"system", "reporting"},
    "MixMonitor": {"system"},
    "StopMixMonitor": {"system"},
}
# Actions left to the admin's choice (they need `system`, see manager_cc.conf).
OPT_IN = {"MixMonitor", "StopMixMonitor"}


def adapter_actions() -> set[str]:
    """Every AMI action the Asterisk adapter's command builders produce."""
    built = [
        commands.redirect("PJSIP/x-1", "cc-hold", "s"),
        commands.hangup("PJSIP/x-1", 16),
        commands.setvar("PJSIP/x-1", "CC_X", "1"),
        commands.getvar("PJSIP/x-1", "CC_X"),
        commands.originate(
            endpoint="PJSIP/1900",
            context="cc-spy",
            exten="s",
            priority=1,
            channel_id="id",
            ring_timeout=30.0,
        ),
        commands.mixmonitor("PJSIP/x-1", "calls/a.wav"),
        commands.stop_mixmonitor("PJSIP/x-1"),
        commands.core_show_channels(),
    ]
    return {a["Action"] for a in built} | {"Login", "Ping"}


def manager_user() -> Section:
    (user,) = read_conf(MANAGER)
    return user


def classes(value: str | None) -> set[str]:
    return {c.strip() for c in (value or "").split(",") if c.strip()}


def test_shipped_dialplan_loads_with_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        sim = Simulator(SimConfig(dialplan_path=EXTENSIONS))
    assert sim.missing_applications == []
    assert sim.dialplan.warnings == []  # type: ignore[attr-defined]
    assert [r.getMessage() for r in caplog.records] == []


def test_a_simulator_without_an_application_would_say_so() -> None:
    """The check above can fail: the simulator does report what it cannot run."""
    text = EXTENSIONS_CC.read_text(encoding="utf-8").replace("Echo()", "Queue(support)")
    plan = Dialplan.parse("[globals]\n" + text, "edited.conf")
    sim = Simulator(SimConfig(dialplan_path=EXTENSIONS), plan)
    assert sim.missing_applications == ["queue"]


def test_contexts_the_adapter_uses_exist() -> None:
    plan = Dialplan.load(str(EXTENSIONS))
    settings = AsteriskSettings()
    wanted = [(ctx, "+4930901820") for ctx in settings.inbound_contexts] + [
        (settings.hold_context, settings.hold_exten),
        (settings.connect_context, settings.connect_exten),
        (settings.spy_context, settings.spy_exten),
    ]
    for context, exten in wanted:
        assert plan.lookup(context, exten, 1, "") is not None, (context, exten)


def test_extensions_cc_alone_is_refused_naming_the_globals_it_extends() -> None:
    with pytest.raises(DialplanError) as err:
        Dialplan.load(str(EXTENSIONS_CC))
    assert "[globals](+)" in str(err.value) and "extensions_cc.conf:" in str(err.value)


def test_tunables_are_cc_prefixed_and_documented() -> None:
    plan = Dialplan.load(str(EXTENSIONS))
    readme = (EXTENSIONS.parent / "README.md").read_text(encoding="utf-8")
    names = list(plan.globals)
    assert names and all(n.startswith("CC_") for n in names), names
    for name in names:
        assert f"`{name}`" in readme, f"{name} is not explained in README.md"


def test_manager_account_matches_the_example_acd_config() -> None:
    acd = yaml.safe_load((ROOT / "configs" / "acd.yaml").read_text(encoding="utf-8"))
    (pbx,) = [p for p in acd["pbx"] if p["type"] == "asterisk"]
    assert manager_account() == (pbx["ami"]["username"], pbx["ami"]["secret"])


def test_manager_write_classes_allow_every_adapter_action_and_no_more() -> None:
    write = classes(manager_user().get("write"))
    used = adapter_actions()
    assert used <= set(ACTION_CLASSES), used - set(ACTION_CLASSES)
    for action in sorted(used - OPT_IN):
        needed = ACTION_CLASSES[action]
        assert not needed or needed & write, f"write={write} does not allow {action}"
    assert "system" not in write  # recording stays opt-in
    # Least privilege: each class granted is the only way to one of the actions.
    for granted in write:
        assert any(ACTION_CLASSES[a] & write == {granted} for a in used - OPT_IN), granted


def test_manager_user_only_from_loopback() -> None:
    user = manager_user()
    assert user.get_all("deny") == ["0.0.0.0/0.0.0.0"]
    assert user.get_all("permit") == ["127.0.0.1/255.255.255.255"]


def agents_config() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "configs" / "agents.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_configured_agent_and_supervisor_has_a_phone() -> None:
    sections = read_conf(PJSIP)
    endpoints, auths, aors = (of_type(sections, t) for t in ("endpoint", "auth", "aor"))
    config = agents_config()
    wanted = [p["endpoint"] for p in config["agents"] + config["supervisors"]]
    assert wanted
    for endpoint in wanted:
        tech, _, name = endpoint.partition("/")
        assert tech == "PJSIP" and name in endpoints, endpoint
        phone = endpoints[name]
        assert phone.get("context") == "cc-agents"
        assert phone.get("auth") in auths and phone.get("aors") in aors
        assert auths[phone.get("auth") or ""].get("username") == name


def test_endpoint_contexts_exist_and_the_trunk_lands_in_an_inbound_context() -> None:
    plan = Dialplan.load(str(EXTENSIONS))
    sections = read_conf(PJSIP)
    endpoints = of_type(sections, "endpoint")
    for name, section in endpoints.items():
        assert section.get("context") in plan.contexts, name
    trunks = [n for n, s in endpoints.items() if s.get("context") == "cc-inbound"]
    assert trunks == ["cc-trunk"]
    assert "cc-inbound" in AsteriskSettings().inbound_contexts
    (identify,) = of_type(sections, "identify").values()
    assert identify.get("endpoint") == "cc-trunk"


def test_default_hold_music_class_is_defined() -> None:
    plan = Dialplan.load(str(EXTENSIONS))
    defined = {s.name for s in read_conf(MUSICONHOLD)}
    assert plan.globals["CC_DEFAULT_MOH_CLASS"] in defined
