"""`make lab` starts JupyterLab on lessons/ (as root too), and `make help` lists every command.

The server test runs the very command `make lab` runs, headless, in the environment running the
tests, and always stops what it started.
"""

import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LESSONS = ROOT / "lessons"
START_TIMEOUT_S = 90  # JupyterLab starts in ~5 s on 2 busy cores; this only bounds a hang
STOP_TIMEOUT_S = 15

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make (the README's quick start does)")


def _make(*args: str) -> list[str]:
    # VENV: the environment running these tests. -o: treat its install stamp as up to date, so the
    # test never re-installs (a worktree's fresh pyproject.toml would otherwise trigger pip).
    venv = pathlib.Path(sys.prefix)
    return ["make", "-s", "-C", str(ROOT), "-o", f"{venv}/.minisora-installed", f"VENV={venv}", *args]


def _env() -> dict[str, str]:
    """This environment, less what an enclosing `make test` passes down: each make here starts afresh."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def _lab_env(tmp_path: pathlib.Path) -> dict[str, str]:
    """Jupyter's config, data, runtime files and lab state kept in tmp_path, out of the repo and $HOME."""
    env = _env()
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                 "JUPYTERLAB_WORKSPACES_DIR", "JUPYTERLAB_SETTINGS_DIR"):
        env[name] = str(tmp_path / name.lower())
    env.pop("JUPYTER_TOKEN", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the whole process group (make and jupyter), SIGKILL it if it outlives a bounded wait."""
    pgid = process.pid  # start_new_session=True: the group's id is make's pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not _group_alive(pgid):
            return
    assert not _group_alive(pgid), f"make lab left processes behind in group {pgid}"


def test_make_lab_serves_every_lesson(tmp_path):
    port, token = _free_port(), secrets.token_hex(16)
    notebooks = {p.name for p in LESSONS.glob("*.ipynb")}
    assert notebooks, "no notebooks in lessons/"
    files_before = sorted(LESSONS.rglob("*"))
    log_path = tmp_path / "make_lab.log"
    command = _make("lab", f"PORT={port}", f"LAB_ARGS=--no-browser --IdentityProvider.token={token}")
    base = f"http://127.0.0.1:{port}"

    started = time.monotonic()
    with open(log_path, "wb") as log:
        # A file, not a pipe: nobody reads the server's output while it runs, and a full pipe blocks it.
        process = subprocess.Popen(command, cwd=ROOT, env=_lab_env(tmp_path), stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        listing = None
        while listing is None:
            if process.poll() is not None:
                pytest.fail(f"make lab exited with {process.returncode}:\n{log_path.read_text()}")
            if time.monotonic() - started > START_TIMEOUT_S:
                pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT_S} s:\n{log_path.read_text()}")
            try:
                status, body = _get(f"{base}/api/contents", token)  # the server's root is lessons/
                listing = json.loads(body)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        served = {item["name"] for item in listing["content"] if item["type"] == "notebook"}
        assert served == notebooks

        first = sorted(notebooks)[0]
        status, body = _get(f"{base}/api/contents/{first}?content=1", token)
        opened = json.loads(body)
        assert opened["type"] == "notebook"
        assert len(opened["content"]["cells"]) == len(json.loads((LESSONS / first).read_text())["cells"])

        status, page = _get(f"{base}/lab", token)  # the page a learner opens
        assert status == 200 and b"JupyterLab" in page
    finally:
        _stop(process)
    elapsed = time.monotonic() - started

    output = log_path.read_text()
    # make's own line, then JupyterLab's link with its token: the URL to open is printed.
    assert f"JupyterLab on lessons/ at {base}/lab" in output
    assert "Ctrl-C twice" in output
    assert f"{base}/lab?token=" in output  # JupyterLab masks a token it was given as "..."
    assert "Running as root is not recommended" not in output
    assert sorted(LESSONS.rglob("*")) == files_before, "the server wrote into lessons/"
    print(f"make lab: served {len(served)} notebooks and stopped in {elapsed:.1f} s")


def test_make_lab_passes_allow_root_only_for_root_and_prints_what_the_readme_says():
    recipe = subprocess.run(_make("-n", "lab", "PORT=8890"), capture_output=True, text=True, check=True, env=_env())
    jupyter_line = next(line for line in recipe.stdout.splitlines() if "jupyter lab" in line)
    assert "--port=8890" in jupyter_line and "lessons/" in jupyter_line
    assert ("--allow-root" in jupyter_line) == (os.geteuid() == 0)

    default = subprocess.run(_make("-n", "lab"), capture_output=True, text=True, check=True, env=_env()).stdout
    printed = re.search(r"JupyterLab on lessons/ at http://\S+/lab", default).group()
    assert printed == "JupyterLab on lessons/ at http://127.0.0.1:8888/lab"
    assert f"`{printed}`" in (ROOT / "README.md").read_text()


def test_make_help_is_the_default_and_lists_every_command():
    bare = subprocess.run(["make", "-s", "-C", str(ROOT)], capture_output=True, text=True, check=True, env=_env())
    helped = subprocess.run(["make", "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, check=True,
                            env=_env())
    assert bare.stdout == helped.stdout
    listed = re.findall(r"^  make (\S+) +\S", helped.stdout, re.M)
    makefile = (ROOT / "Makefile").read_text()
    phony = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    assert sorted(listed) == sorted(phony)
    quick_start = (ROOT / "README.md").read_text().split("## Quick start")[1].split("\n## ")[0]
    for command in set(re.findall(r"^make (\w+)", quick_start, re.M)):
        assert command in listed, f"README's quick start names make {command}, which make help does not list"
