"""AMI actions. Messages, header order and error texts follow Asterisk 22's manager.c."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from pbx.sim.ami import events as ev
from pbx.sim.ami.codec import Message, encode
from pbx.sim.originate import OriginateRequest, originate

if TYPE_CHECKING:
    from pbx.sim.ami.server import Handler, Session

log = logging.getLogger(__name__)

_CALLERID = re.compile(r'^\s*(?:"(?P<qname>[^"]*)"|(?P<name>[^<]*?))\s*(?:<(?P<num>[^>]*)>)?\s*$')


def parse_callerid(value: str) -> tuple[str, str]:
    """`"Name" <num>` / `Name <num>` / `num` -> (num, name), as ast_callerid_parse."""
    m = _CALLERID.match(value)
    if not m:
        return value, ""
    name = (m.group("qname") if m.group("qname") is not None else m.group("name") or "").strip()
    num = m.group("num")
    if num is None:
        # A bare value is a number when it looks like one, otherwise a name.
        return (name, "") if re.fullmatch(r"[0-9+*#]+", name) else ("", name)
    return num.strip(), name


def _ping(s: Session, m: Message) -> None:
    now = s.server.pbx.clock()
    s.respond(m, "Success", ("Ping", "Pong"), ("Timestamp", f"{now:.6f}"))


def _events(s: Session, m: Message) -> None:
    from pbx.sim.ami.server import parse_events

    s.event_mask = parse_events(m.get("EventMask"))
    s.respond(m, "Success", ("Events", "On" if s.event_mask else "Off"))


async def _originate(s: Session, m: Message) -> None:
    channel = m.get("Channel")
    if not channel:
        s.error(m, "Channel not specified")
        return
    prio_text = m.get("Priority") or "1"
    if not prio_text.isdigit() or int(prio_text) < 1:
        s.error(m, "Invalid priority")
        return
    timeout_text = m.get("Timeout")
    if timeout_text and not timeout_text.isdigit():
        s.error(m, "Invalid timeout")
        return
    variables: list[tuple[str, str]] = []
    for header in m.get_all("Variable"):
        for item in header.split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                variables.append((name.strip(), value))
    num, name = parse_callerid(m.get("CallerID")) if m.get("CallerID") else ("", "")
    application = m.get("Application")
    req = OriginateRequest(
        channel=channel,
        context=m.get("Context") or ("" if application else "default"),
        exten=m.get("Exten") or ("" if application else "s"),
        priority=int(prio_text),
        application=application,
        data=m.get("Data"),
        timeout_ms=int(timeout_text) if timeout_text else 30000,
        caller_num=num,
        caller_name=name,
        # manager.c reads them with astman_get_variables (ORDER_REVERSE): the channel gets the
        # last one first.
        variables=tuple(reversed(variables)),
        channel_id=m.get("ChannelId") or None,
        other_channel_id=m.get("OtherChannelId") or None,
        action_id=m.get("ActionID") if m.has("ActionID") else None,
        async_=m.get("Async").lower() in ("true", "yes", "1", "on", "y", "t"),
    )
    if req.application and req.application.lower() not in s.server.pbx.apps:
        s.error(m, "Originate failed")
        return
    pbx = s.server.pbx
    if req.async_:
        s.respond(m, message="Originate successfully queued")
        task = asyncio.get_running_loop().create_task(originate(pbx, req))
        pbx_tasks = s.server.background
        pbx_tasks.add(task)
        task.add_done_callback(pbx_tasks.discard)
        return
    ok, _, _ = await originate(pbx, req)
    if ok:
        s.respond(m, message="Originate successfully queued")
    else:
        s.error(m, "Originate failed")


def _priority(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) > 0 else None


def _redirect(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    name = m.get("Channel")
    if not name:
        s.error(m, "Channel not specified")
        return
    prio_text = m.get("Priority")
    priority = _priority(prio_text) if prio_text else 1
    if priority is None:
        s.error(m, "Invalid priority")
        return
    chan = pbx.find(name)
    if chan is None:
        s.error(m, f"Channel does not exist: {name}")
        return
    extra_name = m.get("ExtraChannel")
    extra = None
    if extra_name:
        extra = pbx.find(extra_name)
        if extra is None:
            s.error(m, f"ExtraChannel does not exist: {extra_name}")
            return
    context = m.get("Context") or chan.context
    exten = m.get("Exten") or chan.exten
    pbx.redirect(chan, context, exten, priority)
    if extra is not None:
        e_prio = _priority(m.get("ExtraPriority")) or priority
        pbx.redirect(extra, m.get("ExtraContext") or context, m.get("ExtraExten") or exten, e_prio)
        s.respond(m, message="Dual Redirect successful")
        return
    s.respond(m, message="Redirect successful")


def _hangup(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    name = m.get("Channel")
    if not name:
        s.error(m, "No channel specified")
        return
    cause_text = m.get("Cause")
    cause = int(cause_text) if cause_text.isdigit() else 0
    chan = pbx.find(name)
    if chan is None:
        s.error(m, "No such channel")
        return
    pbx.soft_hangup(chan, cause, announce=False)
    s.respond(m, message="Channel Hungup")


def _getvar(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    variable = m.get("Variable")
    if not variable:
        s.error(m, "No variable specified")
        return
    name = m.get("Channel")
    chan = pbx.find(name) if name else None
    if name and chan is None:
        s.error(m, "No such channel")
        return
    if variable.endswith(")") and "(" in variable:
        func, _, args = variable[:-1].partition("(")
        value = pbx.call_function(chan, func, args) if chan else pbx.globals.get(args, "")
    elif chan is not None:
        value = pbx.get_var(chan, variable)
    else:
        value = pbx.globals.get(variable)
    s.respond(m, "Success", ("Variable", variable), ("Value", value or ""))


def _setvar(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    variable = m.get("Variable")
    if not variable:
        s.error(m, "No variable specified")
        return
    name = m.get("Channel")
    value = m.get("Value")
    if name:
        chan = pbx.find(name)
        if chan is None:
            s.error(m, "No such channel")
            return
        pbx.set_var(chan, variable, value)
    else:
        pbx.set_global(variable.lstrip("_"), value)
    s.respond(m, message="Variable Set")


def _duration(seconds: float) -> str:
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _list_start(s: Session, m: Message, message: str) -> list[tuple[str, str]]:
    headers = [("Response", "Success")]
    if m.has("ActionID"):
        headers.append(("ActionID", m.get("ActionID")))
    headers += [("EventList", "start"), ("Message", message)]
    return headers


def _list_item(m: Message, event: str, body: list[tuple[str, str]]) -> bytes:
    head = [("Event", event)]
    if m.has("ActionID"):
        head.append(("ActionID", m.get("ActionID")))
    return encode(head + body)


def _list_end(m: Message, event: str, count: int) -> bytes:
    head = [("Event", event)]
    if m.has("ActionID"):
        head.append(("ActionID", m.get("ActionID")))
    return encode([*head, ("EventList", "Complete"), ("ListItems", str(count))])


def _coreshowchannels(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    s.send(_list_start(s, m, "Channels will follow"))
    now = pbx.clock()
    chans = [c for c in pbx.channels.values() if not c.hung_up and c.snapshot is not None]
    chunks = []
    for c in chans:
        snap = c.snapshot
        assert snap is not None
        chunks.append(
            _list_item(
                m,
                "CoreShowChannel",
                [
                    *snap.headers(),
                    ("Application", snap.appl),
                    ("ApplicationData", snap.data),
                    ("Duration", _duration(now - c.created)),
                    ("BridgeId", snap.bridge_id),
                ],
            )
        )
    chunks.append(_list_end(m, "CoreShowChannelsComplete", len(chans)))
    s.write(b"".join(chunks))


def _status(s: Session, m: Message) -> None:
    """Status, laid out as manager.c's action_status (ActionID last in each item)."""
    pbx = s.server.pbx
    name = m.get("Channel")
    if name:
        one = pbx.find(name)
        if one is None:
            s.error(m, "No such channel")
            return
        chans = [one]
    else:
        chans = [c for c in pbx.channels.values() if not c.hung_up and c.snapshot is not None]
    s.send(_list_start(s, m, "Channel status will follow"))
    now = pbx.clock()
    tail = [("ActionID", m.get("ActionID"))] if m.has("ActionID") else []
    chunks = []
    for c in chans:
        snap = c.snapshot
        if snap is None:
            continue
        chunks.append(
            encode(
                [
                    ("Event", "Status"),
                    ("Privilege", "Call"),
                    *snap.headers(),
                    ("Type", c.tech),
                    ("DNID", c.dnid),
                    ("EffectiveConnectedLineNum", c.connected_num or "<unknown>"),
                    ("EffectiveConnectedLineName", c.connected_name or "<unknown>"),
                    ("TimeToHangup", "0"),
                    ("BridgeID", snap.bridge_id),
                    ("Application", snap.appl),
                    ("Data", snap.data),
                    ("Nativeformats", "(ulaw)"),
                    ("Readformat", "ulaw"),
                    ("Readtrans", ""),
                    ("Writeformat", "ulaw"),
                    ("Writetrans", ""),
                    ("Callgroup", "0"),
                    ("Pickupgroup", "0"),
                    ("Seconds", str(max(0, int(now - c.created)))),
                    *tail,
                ]
            )
        )
    end = [("Event", "StatusComplete"), *tail, ("EventList", "Complete")]
    end += [("ListItems", str(len(chunks))), ("Items", str(len(chunks)))]
    chunks.append(encode(end))
    s.write(b"".join(chunks))


def _userevent(s: Session, m: Message) -> None:
    name = m.get("UserEvent")
    if not name:
        s.error(m, "UserEvent not specified")
        return
    body = []
    for line in m.lines:
        key = line.split(":", 1)[0].strip().lower()
        if key in ("action", "userevent"):
            continue
        k, _, v = line.partition(":")
        body.append((k, v.lstrip(" ")))
    s.server.pbx.emit(ev.user_event(name, body))
    s.respond(m)


def _playdtmf(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    chan = pbx.find(m.get("Channel"))
    if chan is None:
        s.error(m, "Channel not found")
        return
    digit = m.get("Digit")
    if not digit:
        s.error(m, "No digit specified")
        return
    duration = int(m.get("Duration")) if m.get("Duration").isdigit() else 100
    pbx.dtmf(chan, digit[0], "Sent", duration)
    s.respond(m, message="DTMF successfully queued")


def _pjsipshowcontacts(s: Session, m: Message) -> None:
    endpoints = s.server.pbx.endpoints
    contacts = [e for e in endpoints.all() if e.registered] if endpoints else []
    s.send(_list_start(s, m, "A listing of Contacts follows, presented as ContactList events"))
    chunks = [
        _list_item(
            m,
            "ContactList",
            [
                ("ObjectType", "contact"),
                ("ObjectName", f"{e.name};@{e.contact_hash}"),
                ("ViaAddr", e.via_addr),
                ("QualifyTimeout", "3.000000"),
                ("CallId", e.call_id),
                ("RegServer", ""),
                ("PruneOnBoot", "no"),
                ("Path", ""),
                ("Endpoint", e.name),
                ("AuthenticateQualify", "no"),
                ("Uri", e.uri),
                ("QualifyFrequency", "0"),
                ("UserAgent", e.user_agent),
                ("ExpirationTime", str(int(e.expires))),
                ("OutboundProxy", ""),
                ("Status", "NonQualified"),
                ("RoundtripUsec", "N/A"),
            ],
        )
        for e in contacts
    ]
    chunks.append(_list_end(m, "ContactListComplete", len(contacts)))
    s.write(b"".join(chunks))


def _mixmonitor(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    name = m.get("Channel")
    if not name:
        s.error(m, "No channel specified")
        return
    chan = pbx.find(name)
    if chan is None:
        s.error(m, "No such channel")
        return
    # No audio is written: the recording exists only as the events and variable.
    filename = m.get("File") or f"{chan.uniqueid}.wav"
    chan.recording = filename
    pbx.set_var(chan, "MIXMONITOR_FILENAME", filename)
    if chan.snapshot is not None:
        pbx.emit(ev.channel_event("MixMonitorStart", ev.CALL, chan.snapshot))
    s.respond(m)


def _stopmixmonitor(s: Session, m: Message) -> None:
    pbx = s.server.pbx
    name = m.get("Channel")
    if not name:
        s.error(m, "No channel specified")
        return
    chan = pbx.find(name)
    if chan is None:
        s.error(m, "No such channel")
        return
    if chan.recording is None:
        s.error(m, "Could not stop monitoring channel")
        return
    chan.recording = None
    if chan.snapshot is not None:
        pbx.emit(ev.channel_event("MixMonitorStop", ev.CALL, chan.snapshot))
    s.respond(m, message="Stopped monitoring channel")


def handlers() -> dict[str, Handler]:
    from pbx.sim.ami.server import Session

    table: dict[str, Handler] = {
        "login": Session.login,
        "logoff": Session.logoff,
        "ping": _ping,
        "events": _events,
        "originate": _originate,
        "redirect": _redirect,
        "hangup": _hangup,
        "getvar": _getvar,
        "setvar": _setvar,
        "coreshowchannels": _coreshowchannels,
        "status": _status,
        "userevent": _userevent,
        "playdtmf": _playdtmf,
        "pjsipshowcontacts": _pjsipshowcontacts,
        "mixmonitor": _mixmonitor,
        "stopmixmonitor": _stopmixmonitor,
    }
    return table
