"""calkeeper: a Client Access License server in the QlikView mould."""

from calkeeper.core.cals import CalType, Denial, Grant
from calkeeper.core.clock import FrozenClock, SystemClock
from calkeeper.site import LocalSite, open_site

__version__ = "0.1.0"
__all__ = ["CalType", "Denial", "FrozenClock", "Grant", "LocalSite", "SystemClock", "open_site"]
