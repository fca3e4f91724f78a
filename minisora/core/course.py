"""Where the course lives: one repository URL, and every notebook's links to it (Colab badge, setup clone).

The URL is written once, in pyproject.toml's `[project.urls] Repository`. Every lesson and
solution opens with an "Open in Colab" badge pointing at its own path in that repository,
and its setup cell installs from (or clones) it; `tests/test_course_links.py` keeps them all
equal to the one URL. A fork points them at itself with

    minisora colab-links --repo you/minisora     # rewrites pyproject.toml and every notebook

which is `point_links_at` below: a text substitution in the notebooks' JSON (sources only;
outputs are untouched, so nothing needs re-running).
"""

from __future__ import annotations

import pathlib
import re

REPO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
NOTEBOOK_FOLDERS = ("lessons", "solutions")
# The two ways a notebook names the repository: the badge's Colab path and a GitHub URL (clone or pip).
_COLAB = re.compile(r"colab\.research\.google\.com/github/([A-Za-z0-9-]+/[A-Za-z0-9._-]+?)/blob/main/")
_GITHUB = re.compile(r"https://github\.com/([A-Za-z0-9-]+/[A-Za-z0-9._-]+?)(?=[\"'\s\\]|$|\.git)")
_PYPROJECT_URL = re.compile(r'^(Repository\s*=\s*")https://github\.com/([^"]+)(")', re.MULTILINE)


def repository(root: str | pathlib.Path) -> str:
    """owner/name from pyproject.toml's [project.urls] Repository, or a ValueError saying what to add."""
    path = pathlib.Path(root) / "pyproject.toml"
    match = _PYPROJECT_URL.search(path.read_text())
    if match is None:
        raise ValueError(f'{path} has no [project.urls] Repository = "https://github.com/OWNER/NAME" line; add one')
    return match.group(2)


def notebook_paths(root: str | pathlib.Path) -> list[pathlib.Path]:
    """Every lesson and solution notebook under root."""
    root = pathlib.Path(root)
    return sorted(p for folder in NOTEBOOK_FOLDERS for p in (root / folder).glob("*.ipynb"))


def linked_repositories(text: str) -> set[str]:
    """The owner/name of every repository a notebook's text links to (Colab badges and GitHub URLs)."""
    return set(_COLAB.findall(text)) | set(_GITHUB.findall(text))


def point_links_at(root: str | pathlib.Path, repo: str) -> list[pathlib.Path]:
    """Rewrite pyproject.toml's Repository URL and every notebook's links to `repo` (owner/name); the files changed."""
    if not isinstance(repo, str) or REPO_PATTERN.fullmatch(repo) is None:
        raise ValueError(f"repo must be a GitHub owner/name such as you/minisora, got {repo!r}")
    root = pathlib.Path(root)
    pyproject = root / "pyproject.toml"
    repository(root)  # its own error when the line is missing
    changed = []
    text = pyproject.read_text()
    new = _PYPROJECT_URL.sub(lambda m: f"{m.group(1)}https://github.com/{repo}{m.group(3)}", text)
    if new != text:
        pyproject.write_text(new)
        changed.append(pyproject)
    for path in notebook_paths(root):
        text = path.read_text()
        new = _COLAB.sub(f"colab.research.google.com/github/{repo}/blob/main/", text)
        new = _GITHUB.sub(f"https://github.com/{repo}", new)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed
