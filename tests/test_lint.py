"""`ruff check` (lint and import order) is clean on the package, the tests and the benchmarks.

The rules live in pyproject.toml's [tool.ruff]. Skipped when ruff is not installed, except on CI
(the CI variable set), where a missing ruff is an error: the check must not vanish silently.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ON_CI = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}  # as minisora.core's FAST


def test_ruff_check_is_clean():
    if importlib.util.find_spec("ruff") is None:
        message = "ruff is not installed; install the test extras with pip install -e '.[test]'"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    command = [sys.executable, "-m", "ruff", "check", "minisora", "tests", "bench"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"
