"""Clearance: rights clearance for AI training data and AI outputs.

The public Python API is re-exported here; ``import clearance`` stays light
(no database driver, image library or HTTP client is imported until used).
"""

from typing import Any

from clearance.core import (
    ALL_USAGES,
    ClearanceError,
    Decision,
    Evidence,
    Mode,
    Permission,
    Terms,
    Usage,
    resolve,
    resolve_all,
)

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Lazy exports: ``clearance.scan`` imports the dataset scan (pyarrow, numpy) on first use."""
    if name == "scan":
        import importlib

        return importlib.import_module("clearance.scan")
    raise AttributeError(f"module 'clearance' has no attribute {name!r}")


__all__ = [
    "ALL_USAGES",
    "ClearanceError",
    "Decision",
    "Evidence",
    "Mode",
    "Permission",
    "Terms",
    "Usage",
    "__version__",
    "resolve",
    "resolve_all",
    "scan",
]
