"""`api` / `bgapi` commands with FreeSWITCH's replies (mod_commands, mod_sofia)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pbx.sim.esl import codec
from pbx.sim.esl.channel import FsChannel
from pbx.sim.esl.events import VERSION, uptime_text
from pbx.sim.esl.originate import originate
from pbx.sim.esl.switch import FsSwitch


@dataclass(slots=True)
class ApiResult:
    body: str
    after: Callable[[], None] | None = None  # runs once the reply has been queued


Handler = Callable[[FsSwitch, str], Awaitable[ApiResult]]
COMMANDS: dict[str, Handler] = {}
NO_SUCH_CHANNEL = "-ERR No such channel!\n"


def command(name: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return deco


async def execute(sw: FsSwitch, line: str) -> ApiResult:
    cmd, _, arg = line.strip().partition(" ")
    handler = COMMANDS.get(cmd)
    if handler is None:
        return ApiResult(f"-ERR {cmd} Command not found!\n")
    return await handler(sw, arg.strip())


def _channel(sw: FsSwitch, uuid: str) -> FsChannel | None:
    ch = sw.channels.get(uuid)
    return ch if ch is not None and ch.up else None


def ok(body: str) -> ApiResult:
    return ApiResult(body)


@command("status")
async def status(sw: FsSwitch, arg: str) -> ApiResult:
    up = time.time() - sw.started
    n = len(sw.channels)
    return ok(
        f"UP {uptime_text(up)}\n"
        f"FreeSWITCH (Version {VERSION.replace('~', '  ')}) is ready\n"
        f"{sw.sessions_since_startup} session(s) since startup\n"
        f"{n} session(s) - peak {sw.peak}, last 5min {sw.peak} \n"
        "0 session(s) per Sec out of max 100, peak 0, last 5min 0 \n"
        "1000 session(s) max\n"
        "min idle cpu 0.00/99.00\n"
        "Current Stack Size/Max 240K/8192K\n"
    )


@command("version")
async def version(sw: FsSwitch, arg: str) -> ApiResult:
    return ok(f"FreeSWITCH Version {VERSION} ( 64bit)\n")


@command("hostname")
async def hostname(sw: FsSwitch, arg: str) -> ApiResult:
    return ok(sw.identity.hostname)


@command("global_getvar")
async def global_getvar(sw: FsSwitch, arg: str) -> ApiResult:
    if not arg:
        return ok("".join(f"{k}={v}\n" for k, v in sw.globals.items()))
    return ok(sw.globals.get(arg, ""))


@command("global_setvar")
async def global_setvar(sw: FsSwitch, arg: str) -> ApiResult:
    name, _, value = arg.partition("=")
    if not name.strip():
        return ok("-USAGE: <var>=<value>\n")
    sw.globals[name.strip()] = value.strip()
    return ok("+OK")


CHANNEL_COLUMNS = [
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
]
CALL_COLUMNS = [
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "hostname",
    "sent_callee_name",
    "sent_callee_num",
    "b_uuid",
    "b_direction",
    "b_created",
    "b_created_epoch",
    "b_name",
    "b_state",
    "b_cid_name",
    "b_cid_num",
    "b_ip_addr",
    "b_dest",
    "b_presence_id",
    "b_presence_data",
    "b_accountcode",
    "b_callstate",
    "b_callee_name",
    "b_callee_num",
    "b_callee_direction",
    "b_sent_callee_name",
    "b_sent_callee_num",
    "call_created_epoch",
]


def channel_row(sw: FsSwitch, ch: FsChannel) -> dict[str, str]:
    p = ch.profile
    created = ch.created_us / 1e6
    row = dict.fromkeys(CHANNEL_COLUMNS, "")
    row.update(
        uuid=ch.uuid,
        direction=ch.direction,
        created=time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
        created_epoch=str(int(created)),
        name=ch.name,
        state=ch.state,
        cid_name=p.get("Caller-ID-Name", ""),
        cid_num=p.get("Caller-ID-Number", ""),
        dest=p.get("Destination-Number", ""),
        application=ch.get_var("current_application"),
        application_data=ch.get_var("current_application_data"),
        dialplan="xml",
        context=p.get("Context", ""),
        read_codec="L16",
        read_rate="8000",
        read_bit_rate="128000",
        write_codec="L16",
        write_rate="8000",
        write_bit_rate="128000",
        hostname=sw.identity.hostname,
        callstate=ch.callstate,
        callee_name=p.get("Callee-ID-Name", ""),
        callee_num=p.get("Callee-ID-Number", ""),
        callee_direction="RECV" if ch.direction == "outbound" else "",
        call_uuid=ch.get_var("call_uuid") if ch.direction == "outbound" else "",
        initial_cid_name=p.get("Orig-Caller-ID-Name", ""),
        initial_cid_num=p.get("Orig-Caller-ID-Number", ""),
        initial_dest=p.get("Destination-Number", ""),
        initial_dialplan="xml",
        initial_context=p.get("Context", ""),
    )
    return row


def _table(columns: list[str], rows: list[dict[str, str]], as_json: bool) -> str:
    if as_json:
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}, separators=(",", ":"))
    if not rows:
        return "\n0 total.\n"
    lines = [",".join(columns)] + [",".join(r[c] for c in columns) for r in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


@command("show")
async def show(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    as_json = words[-2:] == ["as", "json"]
    what = words[0] if words else ""
    live = [ch for ch in sw.channels.values() if ch.up]
    if what == "channels":
        return ok(_table(CHANNEL_COLUMNS, [channel_row(sw, ch) for ch in live], as_json))
    if what in ("calls", "bridged_calls"):
        rows = []
        seen: set[str] = set()
        for ch in live:
            br = sw.bridges.get(ch.uuid)
            if br is None or br.a is not ch or ch.uuid in seen:
                continue
            seen.update((br.a.uuid, br.b.uuid))
            a, b = channel_row(sw, br.a), channel_row(sw, br.b)
            row = {c: a.get(c, "") for c in CALL_COLUMNS if not c.startswith("b_")}
            row.update(
                {
                    f"b_{k}": b.get(k, "")
                    for k in (c[2:] for c in CALL_COLUMNS if c.startswith("b_"))
                }
            )
            row["call_uuid"] = br.a.uuid
            row["call_created_epoch"] = a["created_epoch"]
            rows.append({c: row.get(c, "") for c in CALL_COLUMNS})
        return ok(_table(CALL_COLUMNS, rows, as_json))
    if what == "registrations":
        # As captured from 1.10.12: sofia registrations do not show up in the core's
        # registrations table (flow 10 answered "0 total." with 1001 registered); clients
        # ask `sofia_contact` instead.
        return ok(_table([], [], as_json))
    return ok(
        "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|"
        "channels [count|like <match string>]|calls|detailed_calls|bridged_calls|"
        "detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|"
        "interfaces|interface_types|tasks|limits|status\n"
    )


@command("uuid_exists")
async def uuid_exists(sw: FsSwitch, arg: str) -> ApiResult:
    return ok("true" if _channel(sw, arg.split()[0] if arg else "") else "false")


@command("uuid_setvar")
async def uuid_setvar(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split(" ", 2)
    if len(words) < 2:
        return ok("-USAGE: <uuid> <var> [value]\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    ch.set_var(words[1], words[2] if len(words) > 2 else None)
    return ok("+OK\n")


@command("uuid_setvar_multi")
async def uuid_setvar_multi(sw: FsSwitch, arg: str) -> ApiResult:
    # mod_commands: exactly `<uuid> <a=1;b=2>` (split on spaces), then ';' and '='; a name
    # without a value unsets it.
    words = arg.split()
    if len(words) != 2:
        return ok("-USAGE: <uuid> <var>=<value>;<var>=<value>...\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    for item in words[1].split(";"):
        name, _, value = item.partition("=")
        if not name:
            return ok("-ERR No variable specified\n")
        ch.set_var(name, value or None)
    return ok("+OK\n")


@command("uuid_getvar")
async def uuid_getvar(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if len(words) < 2:
        return ok("-USAGE: <uuid> <var>\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    return ok(ch.lookup(words[1]) or "_undef_")


def dump_headers(sw: FsSwitch, ch: FsChannel) -> list[tuple[str, str]]:
    ev = sw.identity.channel_event("CHANNEL_DATA", ch)
    return ev.headers


@command("uuid_dump")
async def uuid_dump(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    ch = _channel(sw, words[0]) if words else None
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    headers = dump_headers(sw, ch)
    if len(words) > 1 and words[1] == "json":
        return ok(codec.event_json_text(headers))
    return ok(codec.event_plain_body(headers).decode())


@command("uuid_kill")
async def uuid_kill(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if not words:
        return ok("-USAGE: <uuid> [cause]\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    await sw.hangup(ch, words[1] if len(words) > 1 else "NORMAL_CLEARING")
    return ok("+OK\n")


@command("uuid_transfer")
async def uuid_transfer(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if len(words) < 2:
        return ok("-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    rest = words[1:]
    if rest[0] in ("-bleg", "-both"):
        flag, rest = rest[0], rest[1:]
        other = ch.other or ch.loopback_peer
        targets = [other] if flag == "-bleg" else [ch, other]
    else:
        targets = [ch]
    if not rest:
        return ok("-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n")
    context = rest[2] if len(rest) > 2 else ch.profile.get("Context", "default")
    for t in targets:
        if t is not None and t.up:
            sw.transfer(t, rest[0], context)
    return ok("+OK\n")


@command("uuid_bridge")
async def uuid_bridge(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if len(words) < 2:
        return ok("-USAGE: <uuid> <other_uuid>\n")
    a, b = _channel(sw, words[0]), _channel(sw, words[1])
    if a is None or b is None:
        return ok(f"-ERR Invalid uuid {words[0] if a is None else words[1]}\n")
    await sw.bridge(a, b)
    return ok(f"+OK {b.uuid}\n")


@command("uuid_broadcast")
async def uuid_broadcast(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if len(words) < 2:
        return ok("-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    path = words[1]
    leg = words[2] if len(words) > 2 else "aleg"
    targets = [ch] if leg in ("aleg", "") else [ch.other or ch.loopback_peer]
    if leg == "both":
        targets = [ch, ch.other or ch.loopback_peer]
    app, data = ("playback", path)
    if "::" in path:
        app, _, data = path.partition("::")
    for t in targets:
        if t is not None and t.up:
            t.app_queue.append((app, data, ""))
            t.wake.set()
    return ok("+OK Message sent\n")


@command("uuid_send_dtmf")
async def uuid_send_dtmf(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if len(words) < 2:
        return ok("-USAGE: <uuid> <dtmf_data>\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    digits, _, dur = words[1].partition("@")
    far = ch.loopback_peer or ch.other
    if far is not None:
        sw.send_dtmf(far, digits, int(dur) if dur.isdigit() else 250, "UNKNOWN")
    return ok(f"+OK {ch.uuid} sent DTMF {words[1]}.\n")


@command("uuid_recv_dtmf")
async def uuid_recv_dtmf(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if len(words) < 2:
        return ok("-USAGE: <uuid> <dtmf_data>\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    digits, _, dur = words[1].partition("@")
    sw.send_dtmf(ch, digits, int(dur) if dur.isdigit() else 250, "APP")
    return ok(f"+OK {ch.uuid} received DTMF {words[1]}.\n")


@command("uuid_record")
async def uuid_record(sw: FsSwitch, arg: str) -> ApiResult:
    words = arg.split()
    if len(words) < 3 or words[1] not in ("start", "stop", "mask", "unmask"):
        return ok("-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n")
    ch = _channel(sw, words[0])
    if ch is None:
        return ok(NO_SUCH_CHANNEL)
    if words[1] == "start":
        ch.set_var("cc_sim_recording", words[2])
    elif words[1] == "stop":
        ch.set_var("cc_sim_recording", None)
    return ok("+OK Success\n")


@command("originate")
async def originate_cmd(sw: FsSwitch, arg: str) -> ApiResult:
    result = await originate(sw, arg)
    return ApiResult(result.reply, result.start)


@command("sofia")
async def sofia(sw: FsSwitch, arg: str) -> ApiResult:
    if arg.strip() != "status":
        return ok("-ERR Unknown command!\n")
    rule = "=" * 97
    return ok(
        f"{'Name':>25}\t{'Type':>7}\t{'Data':>42}\tState\n{rule}\n"
        f"{sw.config.domain:>25}\t{'alias':>7}\t{'internal':>42}\tALIASED\n"
        f"{'internal':>25}\t{'profile':>7}\t{'sip:mod_sofia@' + sw.config.domain + ':5060':>42}"
        f"\tRUNNING (0)\n{rule}\n1 profile 1 alias\n"
    )


@command("sofia_contact")
async def sofia_contact(sw: FsSwitch, arg: str) -> ApiResult:
    user = arg.split("@")[0].split("/")[-1]
    ep = sw.users.get(user)
    if ep is None or not ep.registered:
        return ok("error/user_not_registered")
    return ok(ep.contact)
