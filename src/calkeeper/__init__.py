"""calkeeper: a Client Access License server in the QlikView mould.

The names below load on first use (PEP 562), so ``import calkeeper.client`` in an app server does
not load the site's database, web and CLI libraries.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calkeeper.core.cals import CalType, Denial, Grant
    from calkeeper.core.clock import FrozenClock, SystemClock
    from calkeeper.site import LocalSite, open_site

__version__ = "0.1.0"
__all__ = ["CalType", "Denial", "FrozenClock", "Grant", "LocalSite", "SystemClock", "open_site"]

_HOMES = {
    "CalType": "calkeeper.core.cals",
    "Denial": "calkeeper.core.cals",
    "Grant": "calkeeper.core.cals",
    "FrozenClock": "calkeeper.core.clock",
    "SystemClock": "calkeeper.core.clock",
    "LocalSite": "calkeeper.site",
    "open_site": "calkeeper.site",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'calkeeper' has no attribute '{name}'")
    value = getattr(import_module(home), name)
    globals()[name] = value  # found once, then an ordinary module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
