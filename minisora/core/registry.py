"""One registry of networks, so a checkpoint can rebuild any of them (lessons 06-09).

A checkpoint stores its network's class name and config; loading needs the classes back.
The table lives here, in the bottom layer, and every layer that defines networks adds to
it (`minisora.models` registers the U-Net, VAE, ViT, ViViT and DiT; `minisora.text` its
encoder). Nothing here imports those layers by name at import time: a lookup of a name not
yet registered first imports the package's network layers (`PROVIDERS`), the way plugin
registries load their entry points, so `load_model` works whichever module a user imported.
"""

from __future__ import annotations

import dataclasses
import importlib

# The layers that define networks, imported on the first lookup that misses.
PROVIDERS = ("minisora.models", "minisora.text")

_NETWORKS: dict[str, tuple[type, type]] = {}


def register_network(network_class: type, config_class: type) -> type:
    """Add `network_class` (built as `network_class(config_class(**saved))`) under its class name; returns it."""
    if not isinstance(network_class, type) or not isinstance(config_class, type):
        raise ValueError(f"register_network takes two classes (the network and its config dataclass), "
                         f"got {network_class!r} and {config_class!r}")
    if not dataclasses.is_dataclass(config_class):
        raise ValueError(f"{config_class.__name__} is not a dataclass; a checkpoint stores the config as its fields")
    name = network_class.__name__
    known = _NETWORKS.get(name)
    if known is not None and known != (network_class, config_class):
        raise ValueError(f"another network is already registered as {name!r} ({known[0].__module__}); "
                         "give the new class another name")
    _NETWORKS[name] = (network_class, config_class)
    return network_class


def registered_networks() -> list[str]:
    """The names a checkpoint's "class" may hold, after importing every provider layer."""
    _import_providers()
    return sorted(_NETWORKS)


def network_entry(name: str) -> tuple[type, type]:
    """(network class, config class) registered as `name`; a ValueError listing the known names otherwise."""
    if name not in _NETWORKS:
        _import_providers()
    if name not in _NETWORKS:
        raise ValueError(f"no network is registered as {name!r}; known: {sorted(_NETWORKS)} "
                         "(a layer adds its networks with minisora.core.register_network)")
    return _NETWORKS[name]


def _import_providers() -> None:
    for module in PROVIDERS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:  # the layer exists but something it needs is missing: say so
                raise
