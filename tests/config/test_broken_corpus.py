"""Every broken config directory reports exactly the expected problems, each located.

An expectation is (file, line, col, field, fragment of the message, severity); ``None`` for
line and col means the problem concerns the whole file. Each case must report these problems
and no others.
"""

from __future__ import annotations

import pytest

from cc_core.config import Severity
from cc_core.config.loader import collect
from tests.config.conftest import BROKEN

E, W = Severity.ERROR, Severity.WARNING
Expected = tuple[str, int | None, int | None, str, str, Severity]

CASES: dict[str, list[Expected]] = {
    "yaml_syntax": [
        ("queues.yaml", 5, 12, "", "YAML syntax: expected ',' or ']', but got ':'", E),
    ],
    "wrong_types": [
        ("acd.yaml", 3, 30, "api.port", "got '18080' (expected an integer)", E),
        ("acd.yaml", 10, 30, "logging.json", "got 'no' (expected true or false)", E),
        ("agents.yaml", 11, 23, "agents[0].skills.billing", "got 'high' (expected an integer)", E),
        ("agents.yaml", 12, 16, "agents[0].languages", "got 'en' (expected a list)", E),
        ("agents.yaml", 16, 15, "agents[1].endpoint",
         "got 1002 (expected a string; quote it: YAML reads digits as a number)", E),
        ("agents.yaml", 19, 12, "agents[1].video", "got 'yes' (expected true or false)", E),
        ("queues.yaml", 4, 15, "queues[0].channels", "got 'voice' (expected a list)", E),
        ("queues.yaml", 7, 15, "queues[0].priority", "got 1.5 (expected an integer)", E),
        ("queues.yaml", 11, 15, "queues[1].strategy", "did you mean 'longest_idle'?", E),
        ("queues.yaml", 16, 11, "numbers[0].did",
         "got the number 4930123456 (expected a quoted", E),
    ],
    "unknown_refs": [
        ("agents.yaml", 11, 14, "agents[0].skills.biling",
         "unknown skill 'biling' (did you mean 'billing'?)", E),
        ("agents.yaml", 12, 21, "agents[0].languages[1]",
         "unknown language 'fr' (expected an id listed in agents.yaml 'languages': en, es)", E),
        ("agents.yaml", 13, 26, "agents[0].queues.sales", "unknown queue 'sales'", E),
        ("agents.yaml", 14, 14, "agents[0].profile", "unknown capacity profile 'part_time'", E),
        ("agents.yaml", 15, 17, "agents[0].supervisor", "unknown supervisor 'sup-x'", E),
        ("queues.yaml", 5, 15, "queues[0].language", "unknown language 'de'", E),
        ("queues.yaml", 6, 14, "queues[0].require",
         "no agent serving queue 'billing' can ever meet its most relaxed requirement", W),
        ("queues.yaml", 8, 23, "queues[0].overflow.queue",
         "unknown queue 'tecj' (did you mean 'tech'?)", E),
        ("queues.yaml", 13, 39, "queues[1].steps[0].require.networking",
         "unknown skill 'networking'", E),
        ("queues.yaml", 16, 31, "numbers[0].ivr", "unknown IVR script 'main_menu'", E),
    ],
    "duplicates": [
        ("agents.yaml", 4, 10, "skills[2].id", "duplicate skill id 'billing' (first defined at "
         "line 2", E),
        ("agents.yaml", 18, 23, "agents[1].skills.tech",
         "duplicate key 'tech' (first at line 18 column 14", E),
        ("agents.yaml", 21, 9, "agents[2].id", "duplicate agent id 'alice' (first defined at "
         "line 9", E),
        ("queues.yaml", 13, 9, "queues[2].id", "duplicate queue id 'billing' (first defined at "
         "line 2", E),
        ("queues.yaml", 18, 11, "numbers[1].did", "duplicate dialled number '+4930123456'", E),
    ],
    "missing_required": [
        ("acd.yaml", 1, 1, "node_id", "required field is missing (expected a string)", E),
        ("agents.yaml", 8, 5, "agents[0].endpoint", "required field is missing", E),
        ("queues.yaml", 2, 5, "queues[0].channels", "required field is missing (expected a list)",
         E),
        ("queues.yaml", 11, 9, "queues[1].steps[1].after",
         "required field is missing (expected an integer)", E),
    ],
    "unknown_keys": [
        ("acd.yaml", 3, 24, "api.prot", "unknown field 'prot' (did you mean 'port'?)", E),
        ("agents.yaml", 7, 1, "agent", "unknown field 'agent' (did you mean 'agents'?)", E),
        ("queues.yaml", 7, 5, "queues[0].stratgey",
         "unknown field 'stratgey' (did you mean 'strategy'?)", E),
        ("queues.yaml", 11, 5, "queues[1].colour",
         "unknown field 'colour' (expected one of 'id', 'name', 'channels'", E),
        ("queues.yaml", 14, 21, "queues[1].steps[1].requires",
         "unknown field 'requires' (did you mean 'require'?)", E),
    ],
    "proficiency_range": [
        ("agents.yaml", 11, 23, "agents[0].skills.billing",
         "got 0 (expected a proficiency from 1 to 5)", E),
        ("agents.yaml", 17, 20, "agents[1].skills.tech",
         "got 6 (expected a proficiency from 1 to 5)", E),
        # Both agents are invalid, so nobody is left to serve billing.
        ("queues.yaml", 2, 9, "queues[0].id", "no agent serves queue 'billing'", W),
        ("queues.yaml", 11, 36, "queues[1].steps[0].require.tech",
         "got 6 (expected a proficiency from 1 to 5)", E),
        ("queues.yaml", 12, 37, "queues[1].steps[1].require.tech",
         "got 0 (expected a proficiency from 1 to 5)", E),
    ],
    "steps_order": [
        ("queues.yaml", 7, 17, "queues[0].steps[0].after", "first step starts at 10 (expected 0",
         E),
        ("queues.yaml", 9, 17, "queues[0].steps[2].after",
         "got 40 after 40 in the step before (expected a time later than 40 seconds", E),
        ("queues.yaml", 14, 5, "queues[1].steps", "give either 'require' or 'steps', not both", E),
        ("queues.yaml", 16, 30, "queues[1].steps[1].require",
         "stricter than the step before (tech 2->3)", W),
        ("queues.yaml", 17, 17, "queues[1].steps[2].after",
         "got 60 after 90 in the step before (expected a time later than 90 seconds", E),
    ],
    "empty_file": [
        ("agents.yaml", 1, 1, "", "file is empty (expected a YAML mapping)", E),
    ],
    "non_utf8": [
        ("queues.yaml", 3, 20, "", "byte 0xf3 is not valid UTF-8", E),
    ],
    "wrong_top_level": [
        ("acd.yaml", 1, 1, "", "top level is a list (expected a mapping with keys 'node_id'", E),
        ("queues.yaml", 1, 1, "", "top level is a string (expected a mapping with keys 'queues', "
         "'numbers')", E),
    ],
    "sla_shapes": [
        ("queues.yaml", 7, 10, "queues[0].sla", "got 80 (expected a mapping)", E),
        ("queues.yaml", 12, 20, "queues[1].sla.percent",
         "got 120 (expected a percentage from 1 to 100)", E),
        ("queues.yaml", 12, 34, "queues[1].sla.seconds",
         "got 0 (expected a whole number of seconds from 1 to 3600)", E),
        ("queues.yaml", 16, 10, "queues[2].sla", "got '80/20' (expected a mapping)", E),
        ("queues.yaml", 20, 10, "queues[3].sla.seconds", "required field is missing", E),
        ("queues.yaml", 24, 5, "queues[4].sla_aware", "sla_aware needs a target", E),
        ("queues.yaml", 30, 33, "queues[5].sla.seconds",
         "SLA window 60 s is longer than max_wait_seconds 30 s", W),
    ],
    "overflow": [
        ("queues.yaml", 8, 15, "queues[0].overflow", "give exactly one target", E),
        ("queues.yaml", 11, 23, "queues[1].channels[1]",
         "queue 'tech' takes chat but nothing in channels.yaml feeds it", W),
        ("queues.yaml", 12, 5, "queues[1].max_wait_seconds", "max_wait_seconds needs 'overflow'",
         E),
        ("queues.yaml", 17, 22, "queues[2].overflow.exit", "exit 'voicemail' applies to calls", E),
        ("queues.yaml", 22, 23, "queues[3].overflow.queue",
         "overflow cycle loop_a -> loop_b -> loop_a", W),
        ("queues.yaml", 25, 23, "queues[4].channels[1]",
         "queue 'loop_b' takes chat but nothing in channels.yaml feeds it", W),
        ("queues.yaml", 27, 23, "queues[4].overflow.queue",
         "overflow target 'loop_a' does not take chat (it takes voice)", E),
        ("queues.yaml", 31, 5, "queues[5].overflow", "overflow needs 'max_wait_seconds'", E),
        ("queues.yaml", 31, 23, "queues[5].overflow.queue", "a queue cannot overflow to itself",
         E),
    ],
    "warnings_only": [
        ("queues.yaml", 4, 23, "queues[0].channels[1]",
         "no agent serving queue 'billing' can take video", W),
        ("queues.yaml", 13, 9, "queues[1].steps[1]",
         "can ever meet its most relaxed requirement (tech>=4, language 'es')", W),
        ("queues.yaml", 14, 9, "queues[2].id", "no agent serves queue 'nobody'", W),
    ],
    "shared_endpoint": [
        ("agents.yaml", 16, 15, "agents[1].endpoint",
         "duplicate endpoint 'PJSIP/1001' (first defined at line 10", W),
    ],
    "channel_refs": [
        ("channels.yaml", 6, 5, "email.addresses.help@example.org",
         "domain 'example.org' is not in allowed_domains", E),
        ("channels.yaml", 7, 23, "email.addresses.tech@example.com",
         "queue 'tech' does not take email (it takes voice)", E),
        ("channels.yaml", 8, 24, "email.addresses.sales@example.com", "unknown queue 'sales'", E),
        ("channels.yaml", 10, 9, "chat.path", "got 'chat' (expected a path such as '/chat')", E),
        ("channels.yaml", 11, 13, "chat.origins[0]", "got 'www.example.com' (expected an origin",
         E),
    ],
    "ports_pbx": [
        ("acd.yaml", 2, 11, "timezone", "got 'Europe/Berln' (expected an IANA time zone such as "
         "'Europe/Berlin')", E),
        ("acd.yaml", 4, 32, "fastagi.port", "port 18080 is already used by api.port", E),
        ("acd.yaml", 5, 39, "esl_outbound.port", "got 0 (expected a port number from 1 to 65535)",
         E),
        ("acd.yaml", 6, 14, "store.url", "got 'not a url' (expected an SQLAlchemy URL", E),
        ("acd.yaml", 7, 41, "live_state.redis_url", "expected a URL starting with redis://", E),
        ("acd.yaml", 9, 5, "pbx[0].ami", "required field is missing (expected connection settings "
         "for asterisk)", E),
        ("acd.yaml", 13, 5, "pbx[1].ami", "'ami' does not apply to type 'freeswitch'", E),
        ("acd.yaml", 15, 11, "pbx[2].name", "duplicate PBX name 'main'", E),
        ("acd.yaml", 17, 51, "pbx[2].esl.password", "got '' (expected a non-empty string)", E),
        ("channels.yaml", 2, 35, "email.listen.port", "port 18080 is already used by api.port", E),
    ],
    "agent_no_queue": [
        ("agents.yaml", 9, 18, "capacity_profiles.greedy.chat",
         "got 30 (expected a capacity from 0 to 20)", E),
        ("agents.yaml", 9, 29, "capacity_profiles.greedy.voice",
         "got 2 (expected a capacity from 0 to 1)", E),
        ("agents.yaml", 23, 5, "agents[2].queues", "agent 'carol' serves no queue", E),
        ("agents.yaml", 27, 5, "agents[3].capacity",
         "agent 'dave' can take no interaction on any channel", W),
        ("agents.yaml", 32, 13, "agents[3].queues", "agent 'dave' serves no queue", E),
    ],
    "missing_file": [
        ("agent.yaml", None, None, "", "not a config file this version reads; ignored (did you "
         "mean 'agents.yaml'?)", W),
        ("agents.yaml", None, None, "", "file not found", E),
    ],
    "not_a_file": [
        ("acd.yaml", None, None, "", "is a directory (expected a YAML file)", E),
    ],
    "ivr_scripts": [
        ("ivr/broken.yaml", 3, 1, "", "YAML syntax: expected ',' or ']'", E),
        ("ivr/headless.yaml", 1, 1, "name", "required field is missing", E),
        ("ivr/headless.yaml", 1, 1, "start", "required field is missing", E),
        ("ivr/main.yaml", 1, 7, "name", "duplicate IVR script name 'main' (first defined in", E),
        ("queues.yaml", 16, 5, "numbers[2]", "give exactly one target (expected 'queue' or 'ivr')",
         E),
        ("queues.yaml", 17, 11, "numbers[3].did",
         "got '030 1234' (expected a dialled number: digits with an optional leading '+')", E),
    ],
}


def test_every_case_directory_has_expectations() -> None:
    on_disk = {p.name for p in BROKEN.iterdir() if p.is_dir()}
    assert on_disk == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_case_reports_exactly_the_expected_problems(case: str) -> None:
    directory = BROKEN / case
    found = collect(directory, environ={})
    actual = {
        (p.file, p.line, p.col, p.field, p.severity): p.message for p in found.problems
    }
    assert len(actual) == len(found.problems), "two problems share one location and field"
    wanted = {
        (str(directory / file), line, col, field, severity): fragment
        for file, line, col, field, fragment, severity in CASES[case]
    }
    assert sorted(actual, key=str) == sorted(wanted, key=str)
    for where, fragment in wanted.items():
        assert fragment in actual[where], f"{where}: {actual[where]!r}"
