"""Sortable tables: ``?sort=name`` (or ``-name``) through a map of public names to fields,
and the header links that switch it. One helper for every table of the portal; the ordering
itself is ``kernel.api.order_by``, the same the API's ``?ordering=`` uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django_stubs_ext import StrOrPromise

from kernel.api import order_by

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Column:
    """A header: its label, and the sort key it switches (empty: not sortable)."""

    label: StrOrPromise
    key: str = ""
    numeric: bool = False
    link: str = ""
    direction: str = ""  # "ascending" / "descending" when the table is sorted by it


def sorted_by(request: HttpRequest, query: QuerySet[M], fields: dict[str, str],
              default: str) -> tuple[QuerySet[M], str]:
    """``query`` in the order ``?sort=`` asks for (an unknown key: the default)."""
    chosen = request.GET.get("sort", "") or default
    if chosen.lstrip("-") not in fields:
        chosen = default
    return order_by(query, chosen, fields, default), chosen


def columns(request: HttpRequest, chosen: str, heads: list[Column]) -> list[Column]:
    """The headers with the link each one sorts by (a second click reverses the order)."""
    query = request.GET.copy()
    query.pop("page", None)
    made = []
    for head in heads:
        if not head.key:
            made.append(head)
            continue
        current = chosen.lstrip("-") == head.key
        descending = chosen.startswith("-")
        query["sort"] = f"-{head.key}" if current and not descending else head.key
        direction = ("descending" if descending else "ascending") if current else ""
        made.append(Column(head.label, head.key, head.numeric, "?" + query.urlencode(),
                           direction))
    return made
