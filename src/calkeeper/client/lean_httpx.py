"""httpx, loaded without its command-line tool.

``import httpx`` also loads click, rich and pygments for ``httpx.main`` whenever they are installed, as
they are beside calkeeper's own CLI: some 40 ms and three libraries that an app server embedding the
client never uses. Loaded from here first, httpx finds its tool "not installed" and defines a ``main``
that says so; ``import httpx._main`` still works afterwards. An httpx already loaded is left as it is.
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # importing it fails: httpx skips its tool
    try:
        import httpx  # noqa: F401
    finally:
        del sys.modules["httpx._main"]
