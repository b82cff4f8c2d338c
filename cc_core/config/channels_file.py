"""``channels.yaml``: the email and chat adapters and which queue each address feeds."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from cc_core.config.value_types import (
    ConfigModel,
    Domain,
    EmailAddress,
    Host,
    Identifier,
    NonEmpty,
    Port,
    in_range,
    pattern,
)

PollSeconds = Annotated[int, AfterValidator(in_range(5, 3600, "a whole number of seconds"))]
WebPath = Annotated[str, AfterValidator(pattern(r"/[A-Za-z0-9_./-]*", "a path such as '/chat'"))]
Origin = Annotated[str, AfterValidator(pattern(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", "an origin such as 'https://www.example.com'"))]


class SmtpListen(ConfigModel):
    """The built-in SMTP server that receives customer mail."""

    host: Host = "127.0.0.1"
    port: Port = 2525


class Smarthost(ConfigModel):
    """Outgoing replies are relayed through this server."""

    host: Host
    port: Port = 587
    username: str | None = None
    password: str | None = None
    starttls: bool = True


class ImapPoll(ConfigModel):
    """Optionally poll an existing mailbox instead of (or besides) receiving by SMTP."""

    host: Host
    port: Port = 993
    username: NonEmpty
    password: NonEmpty
    folder: NonEmpty = "INBOX"
    poll_seconds: PollSeconds = 60
    tls: bool = True


class EmailChannel(ConfigModel):
    listen: SmtpListen | None = SmtpListen()
    allowed_domains: list[Domain]
    imap: ImapPoll | None = None
    smarthost: Smarthost | None = None
    # recipient address -> queue id
    addresses: dict[EmailAddress, Identifier]


class ChatChannel(ConfigModel):
    """Web chat over a WebSocket served by the API listener."""

    path: WebPath = "/chat"
    origins: list[Origin]
    queue: Identifier


class ChannelsFile(ConfigModel):
    email: EmailChannel | None = None
    chat: ChatChannel | None = None
