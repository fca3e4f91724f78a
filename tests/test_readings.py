"""Every number in a notebook's "Reading it" paragraphs is one its own outputs print.

A reading may quote only what the committed run shows (COURSE.md). This test finds each
number in a paragraph that contains "Reading" and looks for it among the numbers the same
notebook's outputs print (text and stream outputs), rounded to the digits quoted; a
percentage may quote a printed fraction, and seconds may quote printed milliseconds.
Numbers that are derived, structural ("lesson 06") or settings are listed in ALLOWED with
the reason; a number that is neither printed nor listed fails, naming the notebook and cell.
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("lessons/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
QUOTED = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")
PRINTED = re.compile(r"\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")

# (notebook, number as quoted) -> why it need not be printed.
ALLOWED = {
    ("02_unet.ipynb", "09"): "lesson 09, a lesson number",
    ("04_vit_patches.ipynb", "23"): "169 / 7.4 MFLOPs, both printed: a ratio",
    ("05_vivit.ipynb", "3.7"): "18.82 / 5.13 GFLOPs, both printed: a ratio",
    ("06_dit.ipynb", "950"): "t = 950, one of the timesteps the figure is drawn at (a setting)",
    ("02_unet_solutions.ipynb", "24"): "the 24 classes (8 colours x 3 shapes): chance is 1 in 24",
    ("03_latent_diffusion_solutions.ipynb", "400"): "the steps each run trains (a setting)",
    ("03_latent_diffusion_solutions.ipynb", "0.18215"): "Stable Diffusion's published latent scale",
    ("03_latent_diffusion_solutions.ipynb", "5.49"): "1 / 0.18215",
    ("03_latent_diffusion_solutions.ipynb", "64"): "8 x 8 latent cells (a shape)",
    ("03_latent_diffusion_solutions.ipynb", "8"): "8 x 8 latent cells (a shape)",
    ("04_vit_patches_solutions.ipynb", "6"): "the 6 frames the figure shows (a setting)",
    ("05_vivit_solutions.ipynb", "0.167"): "chance, 1 in 6 motions",
    ("05_vivit_solutions.ipynb", "4.2"): "section 4.2 of the ViViT paper",
    ("08_text_encoder_solutions.ipynb", "6"): "the lesson's section 6",
    ("09_text_to_video.ipynb", "0.5"): "the issue's floor for one-object prompts (a goal, not a result)",
    ("09_text_to_video.ipynb", "0.9"): "the course's goal (a goal, not a result)",
}


def printed_values(notebook: dict) -> set[float]:
    texts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            texts.append("".join(output.get("text", "")))
            texts += ["".join(value) for kind, value in output.get("data", {}).items() if kind == "text/plain"]
    values = set()
    for match in PRINTED.findall("\n".join(texts)):
        try:
            values.add(float(match.replace(",", "")))
        except ValueError:  # "1,2" split oddly, "1e" cut short
            pass
    return values


def is_printed(quoted: str, values: set[float]) -> bool:
    if "e" in quoted:  # 1.0e-06: the same digits in the same notation
        mantissa = quoted.split("e")[0]
        digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
        return any(f"{value:.{digits}e}" == quoted for value in values)
    number = float(quoted.replace(",", ""))
    digits = len(quoted.split(".")[1]) if "." in quoted else 0
    for value in values:
        for shown in (value, 100 * value, value / 1000):  # as printed, as a percentage, ms as s
            if round(shown, digits) == number:
                return True
    return False


def readings(notebook: dict):
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for paragraph in "".join(cell["source"]).split("\n\n"):
            if "Reading" in paragraph:
                yield index, paragraph


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_every_number_in_a_reading_is_printed_by_the_notebook(path):
    notebook = json.loads(path.read_text())
    values = printed_values(notebook)
    unprinted = [f"cell {index}: {quoted}" for index, paragraph in readings(notebook)
                 for quoted in (token.rstrip(",") for token in QUOTED.findall(paragraph))
                 if (path.name, quoted) not in ALLOWED and not is_printed(quoted, values)]
    assert not unprinted, f"{path.name}: numbers in a reading that no output prints: {unprinted}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_reading_is_left_unfilled(path):
    text = path.read_text()
    assert "TO FILL" not in text and " __ " not in text, f"{path.name} has a placeholder left for a full run"


def test_the_allowed_numbers_are_still_quoted():
    # An entry whose number no reading quotes any more is stale: remove it.
    quoted = set()
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        quoted |= {(path.name, token.rstrip(",")) for _, paragraph in readings(notebook)
                   for token in QUOTED.findall(paragraph)}
    stale = sorted(set(ALLOWED) - quoted)
    assert not stale, f"ALLOWED lists numbers no reading quotes: {stale}"


def test_the_check_catches_an_unprinted_number():
    printed = "PSNR 28.67 dB, 937 ms, rate 0.955, gap 2.4e-07\n"
    notebook = {"cells": [{"cell_type": "code", "outputs": [{"text": printed}]},
                          {"cell_type": "markdown", "source": ["**Reading it.** 28.7 dB, 0.94 s, 95.5%, 2.4e-07, "
                                                               "2.5e-07 and 31.2 dB."]}]}
    values = printed_values(notebook)
    (_, paragraph), = readings(notebook)
    found = {token: is_printed(token, values) for token in QUOTED.findall(paragraph)}
    assert found == {"28.7": True, "0.94": True, "95.5": True, "2.4e-07": True, "2.5e-07": False, "31.2": False}
