"""Shared fixtures: the optional oracles some tests compare against."""

import importlib
import os

import pytest

ON_CI = os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no", "off"}  # as minisora.core's FAST


@pytest.fixture(scope="session")
def diffusers():
    """diffusers, the reference implementation: a skip on a machine without it, a failure under CI.

    CI installs the test extras, so a missing oracle there is a broken install, not a reason to
    pass quietly with the comparison never made.
    """
    if ON_CI:
        return importlib.import_module("diffusers")
    return pytest.importorskip("diffusers")
