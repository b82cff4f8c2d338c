"""AMI framing: any split of the byte stream gives the same messages; limits hold."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pbx.sim.ami.codec import MAX_LINE, Decoder, encode

header = st.tuples(
    st.text(st.characters(min_codepoint=0x41, max_codepoint=0x7A), min_size=1, max_size=12),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)
message = st.lists(header, min_size=1, max_size=6)


def _feed(chunks: list[bytes]) -> list[list[str]]:
    d = Decoder()
    out = []
    for c in chunks:
        out.extend(m.lines for m in d.feed(c))
    return out


@given(st.lists(message, min_size=1, max_size=5), st.data())
def test_any_chunking_gives_the_same_messages(
    msgs: list[list[tuple[str, str]]], data: st.DataObject
) -> None:
    stream = b"".join(encode(m) for m in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    expected = [
        [f"{k}: {v}".rstrip() if not v.strip() else f"{k}: {v}" for k, v in m] for m in msgs
    ]
    got = _feed(chunks)
    assert [[ln.rstrip() for ln in m] for m in got] == [[ln.rstrip() for ln in m] for m in expected]


def test_bare_lf_and_crlf_mix() -> None:
    d = Decoder()
    msgs = d.feed(b"Action: Ping\nActionID: a\n\nAction: Ping\r\nActionID: b\r\n\r\n")
    assert [m.get("ActionID") for m in msgs] == ["a", "b"]
    assert msgs[0].get("action") == "Ping"  # header names are case-insensitive


def test_long_line_poisons_only_its_message_and_memory_stays_bounded() -> None:
    d = Decoder()
    assert d.feed(b"Action: Ping\r\nActionID: " + b"x" * 10 * MAX_LINE) == []
    assert len(d._buf) <= MAX_LINE
    msgs = d.feed(b"x" * 5000 + b"\r\n\r\nAction: Ping\r\nActionID: ok\r\n\r\n")
    assert [m.line_too_long for m in msgs] == [True, False]
    assert msgs[1].get("ActionID") == "ok"


def test_header_lines_are_capped() -> None:
    msgs = Decoder().feed(b"".join(b"H%d: v\r\n" % i for i in range(500)) + b"\r\n")
    assert len(msgs[0].lines) == 128
