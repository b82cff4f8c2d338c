"""Callers keyed to prompts: the n-th start of a sound triggers keys and/or a hang-up."""

from __future__ import annotations

from pbx.sim.callers import Cue, CueCaller, FreeswitchCues


def test_cues_fire_on_their_occurrence_only() -> None:
    done: list[str] = []
    caller = CueCaller(
        (Cue("menu", 2, "5"), Cue("menu", 3, "", hang_up=True), Cue("never", 1, "1")),
        press=lambda keys: done.append(f"press {keys}"),
        hang_up=lambda: done.append("hang up"),
    )
    for sound in ("welcome", "menu", "invalid", "menu", "menu", "menu"):
        caller.hears(sound)
    assert done == ["press 5", "hang up"]
    assert caller.heard == ["welcome", "menu", "invalid", "menu", "menu", "menu"]
    assert caller.pending == (Cue("never", 1, "1"),)


def test_keys_then_hang_up_in_that_order() -> None:
    done: list[str] = []
    caller = CueCaller(
        (Cue("a", 1, "12#", hang_up=True),),
        press=lambda keys: done.append(keys),
        hang_up=lambda: done.append("H"),
    )
    caller.hears("a")
    assert done == ["12#", "H"]


def test_freeswitch_sound_names_lose_the_extension() -> None:
    class Switch:
        listeners: list[object] = []

    cues = FreeswitchCues(Switch(), "wav")  # type: ignore[arg-type]
    assert cues.sound("ccplane/en/welcome.wav") == "ccplane/en/welcome"
    assert cues.sound("digits/4") == "digits/4"
    cues.close()
    assert Switch.listeners == []
