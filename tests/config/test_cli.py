"""``cc-admin check`` run as a real process: exit codes, one line per problem, no traceback."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cc_core.config import Severity, check_directory
from tests.config.conftest import BROKEN, MINIMAL, ROOT, SHIPPED
from tests.config.test_broken_corpus import CASES

CC_ADMIN = Path(sys.executable).parent / "cc-admin"


def run_check(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CC_DB_URL", "CC_REDIS_URL")}
    assert CC_ADMIN.exists(), f"{CC_ADMIN} is missing: install the project (pip install -e .)"
    return subprocess.run([str(CC_ADMIN), "check", *map(str, args)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env=env, check=False)


def test_shipped_configs_pass() -> None:
    result = run_check("configs/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(r"configs: OK: 0 errors, 0 warnings in \d+ files\n", result.stdout)
    assert result.stderr == ""


def test_default_directory_is_configs() -> None:
    assert run_check().returncode == 0


def expected_output_shape(case: str, stdout: str, status: int) -> None:
    expected = CASES[case]
    errors = sum(1 for e in expected if e[5] is Severity.ERROR)
    assert status == (2 if errors else 0), stdout
    assert "Traceback" not in stdout
    lines = stdout.splitlines()
    assert len(lines) == len(expected) + 1, stdout  # problems, then the summary
    verdict = "FAILED" if errors else "OK"
    assert lines[-1].startswith(f"{BROKEN / case}: {verdict}: {errors} error"), lines[-1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_check_directory_prints_one_line_per_problem(case: str) -> None:
    out = io.StringIO()
    status = check_directory(BROKEN / case, out, environ={})
    expected_output_shape(case, out.getvalue(), status)


# Each process costs over a second of start-up, so the console script runs on the cases
# where whole files fail plus one with warnings only; the rest run in-process above.
@pytest.mark.parametrize("case", ["yaml_syntax", "non_utf8", "empty_file", "wrong_top_level",
                                  "not_a_file", "missing_file", "warnings_only"])
def test_console_script_exit_status_and_output(case: str) -> None:
    result = run_check(BROKEN / case)
    assert "Traceback" not in result.stderr
    expected_output_shape(case, result.stdout, result.returncode)


def test_problem_lines_have_the_documented_shape() -> None:
    result = run_check(BROKEN / "unknown_keys")
    first = result.stdout.splitlines()[0]
    assert first == (f"{BROKEN}/unknown_keys/acd.yaml:3:24: api.prot: "
                     "unknown field 'prot' (did you mean 'port'?)")


def test_warnings_print_but_do_not_fail() -> None:
    out = io.StringIO()
    assert check_directory(BROKEN / "warnings_only", out, environ={}) == 0
    assert out.getvalue().count(": warning: ") == 3


@pytest.mark.parametrize("where", ["does-not-exist", "README.md"])
def test_missing_directory_or_a_file_is_a_clean_error(where: str) -> None:
    result = run_check(where)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.splitlines()[0].startswith(f"{where}: ")


def test_unreadable_file_is_a_clean_error(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    for name in ("agents.yaml", "queues.yaml"):
        (configs / name).write_bytes((MINIMAL / name).read_bytes())
    acd = configs / "acd.yaml"
    acd.write_bytes((MINIMAL / "acd.yaml").read_bytes())
    acd.chmod(0)
    try:
        if os.access(acd, os.R_OK):  # root reads anything: use a dangling symlink instead
            acd.chmod(0o644)
            acd.unlink()
            acd.symlink_to(tmp_path / "gone.yaml")
        result = run_check(configs)
    finally:
        if acd.exists():
            acd.chmod(0o644)
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith(f"{acd}: ")


def test_module_entry_point_works_too() -> None:
    result = subprocess.run([sys.executable, "-m", "cc_core.cli.admin", "check", str(SHIPPED)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
