"""The parameters of a data-quality rule (数据质量规则), checked once for every interface.

Each check takes exactly its parameters: ``pattern`` (an RE2 regular expression each value
must match in full), ``range`` (``min`` and/or ``max``, finite numbers), ``enumeration``
(``values``, the allowed strings); not null, uniqueness and freshness take none. A resource
has at most MAX_RULES rules.
"""

from __future__ import annotations

import math
from typing import Any

from django.utils.translation import gettext_lazy as _

from catalog.models import QualityRule
from kernel.errors import InvalidInput
from kernel.patterns import compile_pattern

MAX_RULES = 100
MAX_VALUES = 1000
MAX_VALUE_LENGTH = 200
MAX_BOUND = 10**15
PARAMETERS = {"pattern": ("pattern",), "range": ("min", "max"), "enumeration": ("values",)}


def _bound(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"parameters.{name}", _("must be a number"))
    if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_BOUND:
        raise InvalidInput(f"parameters.{name}", _("must be a finite number within ±%(n)s"),
                           n=MAX_BOUND)
    return float(value)


def _values(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise InvalidInput("parameters.values", _("must be a non-empty list of strings"))
    if len(value) > MAX_VALUES:
        raise InvalidInput("parameters.values", _("at most %(n)s values"), n=MAX_VALUES)
    for n, item in enumerate(value):
        if not isinstance(item, str) or len(item) > MAX_VALUE_LENGTH:
            raise InvalidInput(f"parameters.values[{n}]",
                               _("must be a string of at most %(n)s characters"),
                               n=MAX_VALUE_LENGTH)
    return list(value)


def checked_parameters(check: str, parameters: Any) -> dict[str, Any]:
    """The rule's parameters, checked; InvalidInput naming the parameter otherwise."""
    if check not in QualityRule.Check.values:
        raise InvalidInput("check", _("must be one of %(choices)s"),
                           choices=", ".join(QualityRule.Check.values))
    given = {} if parameters is None else parameters
    if not isinstance(given, dict):
        raise InvalidInput("parameters", _("must be an object"))
    wanted = PARAMETERS.get(check, ())
    extra = sorted(set(given) - set(wanted))
    label = QualityRule.Check(check).label
    if extra:
        raise InvalidInput(f"parameters.{extra[0]}", _("does not apply to a %(check)s rule"),
                           check=label)
    if wanted and not set(given) & set(wanted):
        raise InvalidInput("parameters", _("a %(check)s rule needs %(needs)s"),

                           check=label, needs=" / ".join(wanted))
    if check == "pattern":
        compile_pattern(given["pattern"], "parameters.pattern")
        return {"pattern": given["pattern"]}
    if check == "range":
        bounds = {name: _bound(name, given[name]) for name in ("min", "max") if name in given}
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise InvalidInput("parameters.max", _("must not be below the minimum"))
        return {name: given[name] for name in bounds}
    if check == "enumeration":
        return {"values": _values(given["values"])}
    return {}


def checked_threshold(threshold: Any) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= 100:
        raise InvalidInput("threshold", _("must be a percentage from 1 to 100"))

    return threshold
