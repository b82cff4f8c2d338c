"""``cc-admin prompts build`` with the real espeak-ng and sox: WAV format, duration, skipping."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cc_core.cli.admin import cli
from cc_core.ivr import load_library
from cc_core.ivr.build import BuildError, build_prompts
from cc_core.ivr.prompts import PromptCatalog, PromptSet

from .conftest import SHIPPED


def catalog(text: str = "Welcome to Example Telecom.") -> PromptCatalog:
    return PromptCatalog({
        "en": PromptSet.model_validate({"language": "en", "voice": "en-us", "prompts": {
            "welcome": text, "balance": "Your balance is {balance} euros.",
            "tone": {"audio": "beep"}}}),
        "de": PromptSet.model_validate({"language": "de", "voice": "de", "speed": 170,
                                        "prompts": {"welcome": "Willkommen."}}),
    })


def read(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        samples = np.frombuffer(wav.readframes(params.nframes), dtype="<i2")
    return params, samples


def test_renders_telephone_wavs_named_after_the_sounds(tmp_path: Path) -> None:
    report = build_prompts(catalog(), tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in report.built)
    # The recording (tone) is not rendered; the placeholder splits "balance" in two pieces.
    assert names == ["de/welcome.wav", "en/balance/1.wav", "en/balance/2.wav",
                     "en/welcome.wav"]
    for path in report.built:
        params, samples = read(path)
        assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
        seconds = params.nframes / params.framerate
        assert 0.3 < seconds < 5.0, (path, seconds)
        assert np.sqrt(np.mean(samples.astype(float) ** 2)) > 300  # speech, not silence
    long_params, _ = read(tmp_path / "en" / "welcome.wav")
    short_params, _ = read(tmp_path / "en" / "balance" / "2.wav")  # "euros."
    assert long_params.nframes > 2 * short_params.nframes


def test_up_to_date_files_are_skipped_and_changes_rebuilt(tmp_path: Path) -> None:
    build_prompts(catalog(), tmp_path)
    first = (tmp_path / "en" / "welcome.wav").read_bytes()
    again = build_prompts(catalog(), tmp_path)
    assert (len(again.built), len(again.skipped)) == (0, 4)
    changed = build_prompts(catalog("Welcome to Example Telecom, the best line in town."),
                            tmp_path)
    assert [str(p.relative_to(tmp_path)) for p in changed.built] == ["en/welcome.wav"]
    assert (tmp_path / "en" / "welcome.wav").read_bytes() != first
    (tmp_path / "de" / "welcome.wav").unlink()  # a deleted file is rebuilt
    assert [p.name for p in build_prompts(catalog(), tmp_path).built] == ["welcome.wav",
                                                                           "welcome.wav"]
    assert len(build_prompts(catalog(), tmp_path, force=True).built) == 4


def test_missing_tool_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BuildError, match="espeak-ng not found on PATH"):
        build_prompts(catalog(), tmp_path / "out")


def test_unknown_voice_names_the_file(tmp_path: Path) -> None:
    bad = PromptCatalog({"en": PromptSet.model_validate({
        "language": "en", "voice": "no-such-voice", "prompts": {"hi": "Hi."}})})
    with pytest.raises(BuildError, match=r"prompts/en\.yaml: voice 'no-such-voice' is not"):
        build_prompts(bad, tmp_path)
    assert not list(tmp_path.rglob("*.wav"))


def test_voice_variants_and_file_names_are_accepted(tmp_path: Path) -> None:
    ok = PromptCatalog({"en": PromptSet.model_validate({
        "language": "en", "voice": "en-us+f3", "prompts": {"hi": "Hi."}}),
        "de": PromptSet.model_validate({"language": "de", "voice": "gmw/de",
                                        "prompts": {"hi": "Hallo."}})})
    assert len(build_prompts(ok, tmp_path).built) == 2


def test_cli_builds_the_shipped_prompts(tmp_path: Path) -> None:
    out = tmp_path / "sounds"
    runner = CliRunner()
    result = runner.invoke(cli, ["prompts", "build", "--out", str(out), "--configs",
                                 str(SHIPPED)])
    assert result.exit_code == 0, result.output
    built = sorted(out.rglob("*.wav"))
    assert {p.relative_to(out).parts[0] for p in built} == {"en", "es", "de"}
    assert f"{len(built)} built, 0 up to date" in result.output
    result = runner.invoke(cli, ["prompts", "build", "--out", str(out), "--configs",
                                 str(SHIPPED)])
    assert f"0 built, {len(built)} up to date" in result.output
    # Every sound the interpreter plays for a text prompt is a file the build made.
    prompts = load_library(SHIPPED).prompts
    played = {sound for language, prompt_set in prompts.sets.items()
              for prompt_id in prompt_set.prompts
              for sound in prompts.sounds(prompt_id, language, {"balance": "12"})
              if sound.startswith("ccplane/")}
    assert played == {"ccplane/" + str(p.relative_to(out).with_suffix("")) for p in built}


def test_pieces_and_sounds_agree_around_blank_text(tmp_path: Path) -> None:
    prompts = PromptCatalog({"en": PromptSet.model_validate({
        "language": "en", "voice": "en-us", "prompts": {"x": "{a} {b} euros"}})})
    build_prompts(prompts, tmp_path)
    assert [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.wav")] == ["en/x/2.wav"]
    assert prompts.sounds("x", "en", {"a": "1", "b": "2"}) == ["digits/1", "digits/2",
                                                                 "ccplane/en/x/2"]
