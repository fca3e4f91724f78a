"""One repository URL (pyproject.toml), and every notebook's Colab badge and setup cell pointing at it."""

import json
import pathlib
import shutil

import pytest

from minisora.cli import main
from minisora.core.course import linked_repositories, notebook_paths, point_links_at, repository

ROOT = pathlib.Path(__file__).resolve().parents[1]
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"


def test_every_notebook_links_only_to_the_one_repository():
    repo = repository(ROOT)
    paths = notebook_paths(ROOT)
    assert len(paths) >= 18  # lessons and solutions 00-08 at least
    for path in paths:
        assert linked_repositories(path.read_text()) == {repo}, path.name


@pytest.mark.parametrize("path", notebook_paths(ROOT), ids=lambda p: p.name)
def test_every_notebook_opens_with_its_own_colab_badge(path):
    first = "".join(json.loads(path.read_text())["cells"][0]["source"])
    own = f"(https://colab.research.google.com/github/{repository(ROOT)}/blob/main/{path.parent.name}/{path.name})"
    assert BADGE + own in first


def test_a_fork_rewrites_every_link(tmp_path):
    for path in (ROOT / "lessons" / "00_setup_and_data.ipynb", ROOT / "solutions" / "08_text_encoder_solutions.ipynb"):
        (tmp_path / path.parent.name).mkdir()
        shutil.copy(path, tmp_path / path.parent.name / path.name)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert main(["colab-links", "--repo", "someone/my-sora", "--root", str(tmp_path)]) == 0
    assert repository(tmp_path) == "someone/my-sora"
    for path in notebook_paths(tmp_path):
        assert linked_repositories(path.read_text()) == {"someone/my-sora"}
        json.loads(path.read_text())  # still a notebook
    assert point_links_at(tmp_path, "someone/my-sora") == []  # a second run changes nothing


@pytest.mark.parametrize("repo", ["", "no-slash", "a/b/c", "owner/na me", 3])
def test_bad_repositories_are_refused(tmp_path, repo):
    with pytest.raises(ValueError, match="owner/name"):
        point_links_at(tmp_path, repo)


def test_a_pyproject_without_the_url_is_named(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(ValueError, match="Repository"):
        repository(tmp_path)
