"""The package's layers (../shared/ARCHITECTURE.md): lower layers never import higher ones.

Read from the source with `ast`, so a forbidden import fails here even if nothing runs it.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "minisora"

# Layer -> the minisora layers it may import (itself always allowed).
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "eval": {"data"},  # only the world's vocabulary; test_eval pins which modules exactly
    "blocks": {"core"},
    "models": {"core", "blocks", "text"},  # a network knows nothing of β, ᾱ or samplers; CLIP pairs text and ViViT
    "text": {"core", "blocks", "data"},  # data: only the tokenizer, for the caption grammar (test_text_encoder)
    "diffusion": {"core"},  # receives networks as callables, never imports one; core: argument checks, progress bars
    "train": {"core", "data", "eval", "blocks", "models", "text", "diffusion"},
    "pipeline": {"core", "data", "eval", "blocks", "models", "text", "diffusion"},  # beside train: loads what it wrote
}


def minisora_imports(path: pathlib.Path) -> set[str]:
    """The minisora layers a module imports."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "minisora" and len(parts) > 1:
                layers.add(parts[1])
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_lies_below(layer):
    for path in sorted((PACKAGE / layer).rglob("*.py")):  # sub-packages (train/recipes) too
        imported = minisora_imports(path) - {layer}
        assert imported <= ALLOWED[layer], f"{layer}/{path.name} imports {sorted(imported - ALLOWED[layer])}"


def test_every_layer_is_listed():
    layers = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert layers <= set(ALLOWED), f"add {sorted(layers - set(ALLOWED))} to ALLOWED"
