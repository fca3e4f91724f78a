"""The project's own files agree with each other (dependencies, README, CI)."""

import json
import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {r.replace(" ", "") for r in requirements}


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_requirements = {r.replace(" ", "") for r in pip_section if not r.startswith("-e")}
    assert conda_requirements == _pyproject_requirements()
    assert "-e ." in pip_section


def test_requirements_are_lower_bounds_only():
    for requirement in _pyproject_requirements():
        assert "==" not in requirement and "<" not in requirement, requirement


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_readme_lists_every_lesson():
    readme = (ROOT / "README.md").read_text()
    for notebook in sorted((ROOT / "lessons").glob("*.ipynb")):
        assert notebook.stem in readme, f"README's syllabus does not mention {notebook.name}"


def test_committed_notebooks_have_no_errors_and_no_absolute_paths():
    # COURSE.md: outputs present, no error cells, no absolute paths (they differ per machine, and a
    # checked cell whose output holds one fails nbval on every other machine).
    for notebook in sorted([*(ROOT / "lessons").glob("*.ipynb"), *(ROOT / "solutions").glob("*.ipynb")]):
        cells = json.loads(notebook.read_text())["cells"]
        for index, cell in enumerate(cells):
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", f"{notebook.name} cell {index} holds an error"
                text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
                found = re.search(r"(/home/|/work/|/tmp/|/Users/|[A-Z]:\\\\|site-packages)", text)
                assert found is None, f"{notebook.name} cell {index} prints a machine's path ({found.group()}...)"
