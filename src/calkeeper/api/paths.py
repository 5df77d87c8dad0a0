"""The shapes of the API's path parameters, where a parameter could swallow a path of another operation.

Starlette matches routes by pattern. Without these, ``PATCH …/documents/D/cals`` would change a
document named ``D/cals`` and ``DELETE …/cals/named/remove`` would remove the Named CAL of a user
named ``remove``: each path now belongs to the operations the OpenAPI gives it, and another method on
it is a 405 naming them. Registered when this module is imported (Starlette keeps one table).
"""

from __future__ import annotations

from starlette.convertors import PathConvertor, StringConvertor, register_url_convertor


class DocumentPath(PathConvertor):
    """A document's path (with '/' between folders), but not one ending in a path below a document:
    ``…/cals``, ``…/cals/USER``, ``…/cals/USER/restore``, ``…/release``."""

    regex = r"(?!.*/(?:cals(?:/[^/]+(?:/restore)?)?|release)$).+"


class HolderName(StringConvertor):
    """A user's (or machine's) name in a path, but not ``remove`` or ``restore``: those are the list
    operations beside it (a holder with such a name is named in their body instead)."""

    regex = r"(?!(?:remove|restore)$)[^/]+"


register_url_convertor("document", DocumentPath())
register_url_convertor("holder", HolderName())
