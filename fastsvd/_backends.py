"""Where input held outside this process (a Dask cluster) finds its backend.

A backend registers, for a kind of input (``"matrix"`` for the SVD functions,
``"ratings"`` for soft-impute), a test that recognises its objects and a
factory that turns them into an operator. The facade asks :func:`convert`
before it treats an object as an array.

Backends register themselves when imported. An input can only come from a
backend whose library is already imported (a ``dask.array.Array`` needs
``dask``), so :func:`convert` imports each known backend module the first time
its library shows up in ``sys.modules``: ``fastsvd.svd(dask_array, k)`` works
without importing :mod:`fastsvd.distributed` first, and nothing is imported
for anyone else.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable

#: Backend modules, each with the library whose presence triggers its import.
KNOWN_BACKENDS = {"fastsvd.distributed": "dask"}

_registry: list[tuple[str, Callable, Callable]] = []
_lock = threading.Lock()


def register(kind: str, accepts: Callable, factory: Callable) -> None:
    """Let ``factory(X, **options)`` convert inputs of ``kind`` for which
    ``accepts(X)`` is true."""
    with _lock:
        _registry.append((kind, accepts, factory))


def convert(kind: str, X, **options):
    """``X`` converted by the backend that accepts it, or ``None`` when no
    backend does."""
    _import_triggered_backends()
    for registered_kind, accepts, factory in list(_registry):
        if registered_kind == kind and accepts(X):
            return factory(X, **options)
    return None


def accepts(kind: str, X) -> bool:
    """Whether some backend converts ``X`` as ``kind``."""
    _import_triggered_backends()
    return any(k == kind and test(X) for k, test, _ in list(_registry))


def _import_triggered_backends() -> None:
    for module, library in KNOWN_BACKENDS.items():
        if module not in sys.modules and library in sys.modules:
            try:
                importlib.import_module(module)
            except ImportError:  # the library is there but not all the backend needs
                pass
