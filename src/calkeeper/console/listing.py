"""What the console's long lists share: a page of a filtered, sorted list, its pager and the links that keep
the search, filters and sort from page to page (and back after Apply)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

PAGE_SIZE = 50


def page_count(total: int, size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // size))


def clamp_page(page_number: int, total: int, size: int = PAGE_SIZE) -> int:
    """A page past the end is the last page; a list never shows an empty page when it holds rows."""
    return max(1, min(page_number, page_count(total, size)))


@dataclass(frozen=True)
class Listing:
    """A list's state as its URL holds it: what narrows it, its sort and its page."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)  # the search and filters, as the URL spells them
    sort: str = "user"
    page_number: int = 1
    total: int = 0
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return page_count(self.total, self.size)

    @property
    def offset(self) -> int:
        return (self.page_number - 1) * self.size

    @property
    def first_row(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_row(self) -> int:
        return min(self.total, self.offset + self.size)

    def query(self, **changes: object) -> str:
        """The query string of this list with some of its parts changed (empty parts left out)."""
        values: dict[str, object] = {**self.params, "sort": self.sort, "page": self.page_number, **changes}
        return urlencode({k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)})

    def here(self, **changes: object) -> str:
        query = self.query(**changes)
        return f"{self.path}?{query}" if query else self.path

    def sort_link(self, column: str) -> str:
        """The header link of a column: sort by it, or reverse the sort when it is the sort already."""
        return self.here(sort=f"-{column}" if self.sort == column else column, page=1)

    def sort_state(self, column: str) -> str:
        """aria-sort of a column's header."""
        if self.sort == column:
            return "ascending"
        return "descending" if self.sort == f"-{column}" else "none"

    def page_links(self) -> list[int | None]:
        """The page numbers the pager shows: the first, the last and those around this one (None: a gap)."""
        wanted = {1, self.pages, *range(self.page_number - 2, self.page_number + 3)}
        shown = sorted(n for n in wanted if 1 <= n <= self.pages)
        links: list[int | None] = []
        for number in shown:
            if links and number - (links[-1] or 0) > 1:
                links.append(None)
            links.append(number)
        return links
