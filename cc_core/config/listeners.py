"""Every socket the service listens on must be distinct: two listeners on one port fail at
start-up, so the check catches it first."""

from __future__ import annotations

from dataclasses import dataclass

from cc_core.config.problems import Problem
from cc_core.config.sources import Sources
from cc_core.config.yaml_source import Document, Loc

_ANY = {"0.0.0.0", "::", "[::]", ""}


@dataclass(frozen=True)
class Listener:
    doc: Document
    loc: Loc
    host: str
    port: int

    def clashes(self, other: Listener) -> bool:
        same_host = self.host == other.host or self.host in _ANY or other.host in _ANY
        return self.port == other.port and same_host


def listeners(src: Sources) -> list[Listener]:
    found: list[Listener] = []
    if src.acd is not None:
        acd = src.acd.partial
        for name in ("api", "fastagi", "esl_outbound", "media_fork"):
            section = getattr(acd, name, None)
            if section is not None and getattr(section, "enabled", True):
                found.append(Listener(src.acd.doc, (name, "port"), section.host, section.port))
    if src.channels is not None:
        email = src.channels.partial.email
        if email is not None and email.listen is not None:
            listen = email.listen
            found.append(Listener(src.channels.doc, ("email", "listen", "port"),
                                  listen.host, listen.port))
    return found


def port_clashes(src: Sources) -> list[Problem]:
    problems: list[Problem] = []
    seen: list[Listener] = []
    for listener in listeners(src):
        for earlier in seen:
            if listener.clashes(earlier):
                at = earlier.doc.mark(earlier.loc)
                where = f"{earlier.doc.file}:{at.line}"
                name = ".".join(str(p) for p in earlier.loc)
                problems.append(listener.doc.problem(
                    listener.loc, f"port {listener.port} is already used by {name} ({where}); "
                    "expected a free port"))
                break
        seen.append(listener)
    return problems
