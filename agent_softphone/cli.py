"""``cc-phone``: the agent's softphone and edge probe on the console.

    cc-phone run --acd http://127.0.0.1:8080 --agent alice --token T --user 1001 \\
        --registrar sip:pbx:5060 --password S [--auto-answer] [--mic-wav F --speaker-wav F]
    cc-phone probe --acd ... --agent alice --token T --mic-wav room.wav   (no SIP)
    cc-phone token --configs configs alice                                  (for the admin)

Console commands while running: a (answer), h (hang up), hold, unhold, ready, nr [REASON]
(not ready), wrap (wrap-up done), login, logout, q (quit).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from agent_softphone.client import AcdClient, AcdError
from agent_softphone.edge import REPORT_EVERY_S, ReportSender, run_probe
from agent_softphone.probe import AudioFileError, CpuMeter, MicProbe, WavMic

_common = [
    click.option(
        "--acd",
        "acd_url",
        default="http://127.0.0.1:8080",
        show_default=True,
        envvar="CC_ACD_URL",
        help="The ACD's API.",
    ),
    click.option("--agent", "agent_id", required=True, envvar="CC_AGENT", help="Agent id."),
    click.option(
        "--token",
        envvar="CC_AGENT_TOKEN",
        default=None,
        help="The agent's token (cc-phone token); needed for reports and screen-pops, and for "
        "presence once the ACD has api.agent_secret.",
    ),
    click.option(
        "--report-every",
        default=REPORT_EVERY_S,
        show_default=True,
        type=float,
        help="Seconds between edge reports.",
    ),
]


def common(func: Any) -> Any:
    for option in reversed(_common):
        func = option(func)
    return func


@click.group()
def cli() -> None:
    """The agent's SIP softphone and edge probe."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")


@cli.command()
@click.option("--configs", "config_dir", default="configs", type=click.Path(path_type=Path))
@click.option("--supervisor", is_flag=True, help="The supervisors' token (any context).")
@click.argument("agent_id", required=False)
def token(config_dir: Path, agent_id: str | None, supervisor: bool) -> None:
    """Print AGENT_ID's token (or with --supervisor the supervisors'), from api.agent_secret
    in CONFIG_DIR/acd.yaml."""
    from cc_core.acd.agent_quality import agent_token, supervisor_token
    from cc_core.config import load_configs

    config = load_configs(config_dir)
    secret = config.acd.api.agent_secret
    if not secret:
        raise click.ClickException(f"{config_dir / 'acd.yaml'}: api.agent_secret is not set")
    if supervisor:
        click.echo(supervisor_token(secret))
        return
    if agent_id is None:
        raise click.UsageError("expected AGENT_ID (or --supervisor)")
    if agent_id not in {a.id for a in config.agents.agents}:
        raise click.ClickException(f"{config_dir / 'agents.yaml'}: no agent {agent_id!r}")
    click.echo(agent_token(secret, agent_id))


@cli.command()
@common
@click.option(
    "--mic-wav",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="16-bit mono WAV (8 or 16 kHz) heard as the microphone, looping.",
)
@click.option("--duration", type=float, default=None, help="Stop after this many seconds.")
def probe(
    acd_url: str,
    agent_id: str,
    token: str | None,
    report_every: float,
    mic_wav: Path,
    duration: float | None,
) -> None:
    """Measure the microphone (a WAV file) and CPU and report them; no SIP."""
    try:
        mic = WavMic(mic_wav)
    except AudioFileError as exc:
        raise click.ClickException(str(exc)) from None
    sender = ReportSender(AcdClient(acd_url, agent_id, token))
    stop = threading.Event()
    if duration is not None:
        threading.Timer(duration, stop.set).start()
    try:
        run_probe(mic.read, MicProbe(mic.rate), sender, stop, report_every=report_every)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        sender.close()
    click.echo(
        f"reports sent: {sender.sent}, failed: {sender.failed}"
        + (f" ({sender.last_error})" if sender.last_error else "")
    )


@cli.command()
@common
@click.option("--user", required=True, help="SIP user (the agent's extension).")
@click.option("--domain", default="127.0.0.1", show_default=True)
@click.option("--registrar", default=None, help="e.g. sip:127.0.0.1:5060 (none: no REGISTER)")
@click.option("--auth-user", default=None, help="Digest user name (default: --user).")
@click.option("--password", envvar="CC_SIP_PASSWORD", default=None)
@click.option("--bind", default="127.0.0.1", show_default=True)
@click.option("--sip-port", default=5070, show_default=True, type=int)
@click.option("--rtp-port", default=4000, show_default=True, type=int)
@click.option("--auto-answer", is_flag=True)
@click.option("--mic-wav", type=click.Path(exists=True, path_type=Path), default=None)
@click.option("--speaker-wav", type=click.Path(path_type=Path), default=None)
@click.option("--sound-device", is_flag=True, help="Use the sound card, not the null device.")
@click.option(
    "--login",
    "login_state",
    type=click.Choice(["ready", "not_ready"]),
    default=None,
    help="Log the agent in at start.",
)
def run(
    acd_url: str,
    agent_id: str,
    token: str | None,
    report_every: float,
    user: str,
    domain: str,
    registrar: str | None,
    auth_user: str | None,
    password: str | None,
    bind: str,
    sip_port: int,
    rtp_port: int,
    auto_answer: bool,
    mic_wav: Path | None,
    speaker_wav: Path | None,
    sound_device: bool,
    login_state: str | None,
) -> None:
    """Run the softphone: SIP calls, presence and edge reports."""
    from agent_softphone.phone import PhoneSettings, Softphone

    client = AcdClient(acd_url, agent_id, token)
    rate = WavMic(mic_wav).rate if mic_wav else 8000
    mic_probe = MicProbe(rate)
    console = Console(client)
    phone = Softphone(
        PhoneSettings(
            user=user,
            domain=domain,
            registrar=registrar,
            auth_user=auth_user,
            password=password,
            bind=bind,
            sip_port=sip_port,
            rtp_port=rtp_port,
            auto_answer=auto_answer,
            mic_wav=mic_wav,
            speaker_wav=speaker_wav,
            null_audio=not sound_device,
        ),
        mic_probe,
        console.on_event,
    )
    console.phone = phone
    click.echo(
        f"SIP on {bind}:{phone.sip_port}; commands: a h hold unhold ready nr wrap login logout q"
    )
    if login_state:
        console.command(f"login {login_state}")
    sender = ReportSender(client)
    cpu = CpuMeter()
    threading.Thread(target=console.read_stdin, name="console", daemon=True).start()
    next_report = time.monotonic() + report_every
    try:
        while not console.quit.is_set():
            phone.poll(20)
            if time.monotonic() >= next_report:
                next_report += report_every
                load = cpu.load()
                if mic_probe.ready or mic_wav is None:
                    sender.offer(mic_probe.report(phone.network(), load))
    except KeyboardInterrupt:
        pass
    finally:
        sender.close()
        phone.close()


def screen_pop_lines(pop: dict[str, Any], expected: str | None = None) -> list[str]:
    """The screen-pop as console lines; ``expected`` is the call's X-CC-Interaction header."""
    current = pop.get("interaction")
    if not current:
        return ["[screen-pop] no ACD interaction for this call"]
    interaction_id = current.get("id")
    if expected and expected != interaction_id:
        return [f"[screen-pop] the ACD shows {interaction_id}, the call is {expected}: not shown"]
    lines = [
        f"[screen-pop] caller {current.get('caller')} queue {current.get('queue')} "
        f"interaction {interaction_id}"
    ]
    customer = pop.get("customer")
    if customer:
        ids = ", ".join(f"{i['kind']} {i['value']}" for i in customer.get("identities", []))
        lines.append(f"  customer {customer.get('name') or customer['id']} ({ids})")
    ivr = pop.get("ivr")
    if ivr:
        lines.append(f"  IVR {ivr.get('script')}: {' > '.join(map(str, ivr.get('path', [])))}")
        for item in ivr.get("inputs", []):
            entered = item.get("digits") if item.get("digits") is not None else item.get("value")
            lines.append(f"  {item.get('kind')} {item.get('attribute') or ''} {entered}")
    for prev in pop.get("previous_contacts", []):
        lines.append(
            f"  earlier: {prev['created_at']} {prev['channel']} {prev['queue']} "
            f"{prev['outcome']} agent {prev['agent_id']} csat {prev['csat']}"
        )
    return lines


class Console:
    """Console commands (from stdin, in their own thread) and what the phone reports."""

    def __init__(self, client: AcdClient) -> None:
        self.client = client
        self.phone: Any = None
        self.quit = threading.Event()

    def on_event(self, event: tuple[str, dict[str, Any]]) -> None:
        kind, data = event
        click.echo(f"[{kind}] " + " ".join(f"{k}={v}" for k, v in data.items()))
        if kind == "incoming":
            # The ACD is asked from another thread: the SIP thread never waits on HTTP.
            expected = str(data.get("interaction") or "") or None
            threading.Thread(target=self._screen_pop, args=(expected,), daemon=True).start()

    def _screen_pop(self, expected: str | None = None) -> None:
        try:
            pop = self.client.screen_pop()
        except AcdError as exc:
            click.echo(f"[screen-pop] unavailable: {exc}")
            return
        for line in screen_pop_lines(pop, expected):
            click.echo(line)

    def read_stdin(self) -> None:
        for line in sys.stdin:
            self.command(line.strip())
            if self.quit.is_set():
                return
        self.quit.set()

    def command(self, line: str) -> None:
        word, _, rest = line.partition(" ")
        phone_commands = {"a": "answer", "h": "hangup", "hold": "hold", "unhold": "unhold"}
        try:
            if word in phone_commands:
                self.phone.submit(getattr(self.phone, phone_commands[word]))
            elif word == "ready":
                click.echo(self.client.set_state("ready"))
            elif word == "nr":
                click.echo(self.client.set_state("not_ready", rest.strip() or None))
            elif word == "wrap":
                click.echo(self.client.wrap_up_done())
            elif word == "login":
                click.echo(self.client.login(rest.strip() or "ready"))
            elif word == "logout":
                click.echo(self.client.logout())
            elif word == "q":
                self.quit.set()
            elif word:
                click.echo(
                    f"unknown command {word!r}: a h hold unhold ready nr wrap login logout q"
                )
        except AcdError as exc:
            click.echo(f"ACD: {exc}")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
