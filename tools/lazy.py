"""A module imported on first use: ``np = lazy_module("numpy")`` in place of ``import numpy as np``.

Why: `recall status` and `recall people` need neither numpy nor PIL, yet the modules on their
path (the store, people, faces, the model adapters) imported both at the top, which cost them
~0.1-0.2 s of a cold start of ~0.5 s. With this, a command pays for a library when a line of
code first touches it. After the first touch the module's names are copied onto the stand-in,
so later lookups are plain attribute reads.
"""
from __future__ import annotations

import importlib
import threading
from types import ModuleType

_lock = threading.Lock()


class _LazyModule(ModuleType):
    def __init__(self, name: str):
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def __getattr__(self, attribute: str):
        with _lock:
            module = importlib.import_module(self.__dict__["_lazy_target"])
            self.__dict__.update({k: v for k, v in vars(module).items() if k not in ("__name__", "__dict__")})
        return getattr(module, attribute)

    def __dir__(self):
        return dir(importlib.import_module(self.__dict__["_lazy_target"]))


def lazy_module(name: str) -> ModuleType:
    """``name`` itself when something imported it already, else a stand-in that imports it on first use."""
    import sys

    return sys.modules.get(name) or _LazyModule(name)
