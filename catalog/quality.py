"""Data-quality checks (数据质量): rules per data item, run over a sample file.

A run reads a CSV (header row) or JSON (array of objects) sample in whatever encoding it
was written (``kernel.uploads.decode_text``: UTF-8, GB18030/GBK or UTF-16), computes each
rule's pass rate and the rows that fail it, and records it as ``catalog.quality.checked``;
a resource with a rule below its threshold is flagged in the catalogue. Rates are written in
basis points (integers), as the ledger allows no floats.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalog import access, rules, versions
from catalog.models import DataResource, Frequency, Opening, QualityCheck, QualityRule
from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput, NotPermitted
from kernel.patterns import compile_pattern, full_match
from kernel.times import local_date
from kernel.uploads import MiB, check_size, decode_text
from ledger import services as ledger
from operators import authz
from operators.models import Kind, Participant

MAX_SAMPLE = 20 * MiB
# How many failing rows a result lists (by row number: 1 is the first data row).
FAILING_ROWS_LISTED = 20
FRESHNESS_WINDOW = {
    Frequency.REALTIME: timedelta(days=1), Frequency.DAILY: timedelta(days=2),
    Frequency.WEEKLY: timedelta(days=8), Frequency.MONTHLY: timedelta(days=32),
    Frequency.QUARTERLY: timedelta(days=93), Frequency.YEARLY: timedelta(days=367),
}


@dataclass(frozen=True)
class Sample:
    rows: list[dict[str, Any]]
    encoding: str


def parse_sample(name: str, data: bytes) -> Sample:
    """The rows of a CSV (header row) or JSON (array of objects) sample, and the encoding
    it was read in."""
    check_size("sample", data, MAX_SAMPLE)
    lowered = name.lower()
    if not lowered.endswith((".json", ".csv")):
        raise InvalidInput("sample", _("must be a .csv or .json file"))
    read = decode_text("sample", data)
    if lowered.endswith(".json"):
        try:
            rows = json.loads(read.text)
        except json.JSONDecodeError as exc:
            raise InvalidInput("sample", _("is not valid JSON: %(problem)s at line %(line)s"),
                               problem=exc.msg, line=exc.lineno) from None
        except (ValueError, RecursionError):
            raise InvalidInput("sample", _("is not valid JSON: nested too deeply or a number "
                                           "too long")) from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInput("sample", _("JSON must be an array of objects"))
        return Sample(rows, read.encoding)
    try:
        return Sample(list(csv.DictReader(io.StringIO(read.text))), read.encoding)
    except csv.Error as exc:
        raise InvalidInput("sample", _("is not valid CSV: %(problem)s"), problem=exc) from None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _test(rule: QualityRule, values: list[Any], frequency: str,
          today: date) -> Callable[[Any], bool]:
    """Whether one value passes ``rule`` (an empty value passes only "not null"'s opposite:
    it fails every rule but freshness of an irregular resource)."""
    p = rule.parameters or {}
    if rule.rule == QualityRule.Check.NOT_NULL:
        return lambda v: not _empty(v)
    if rule.rule == QualityRule.Check.PATTERN:
        pattern = compile_pattern(p.get("pattern"), f"rules[{rule.pk}].pattern")
        return lambda v: full_match(pattern, str(v))
    if rule.rule == QualityRule.Check.RANGE:
        low, high = _number(p.get("min")), _number(p.get("max"))

        def within(v: Any) -> bool:
            n = _number(v)
            return n is not None and (low is None or n >= low) and (high is None or n <= high)
        return within
    if rule.rule == QualityRule.Check.ENUMERATION:
        allowed = {str(v) for v in p.get("values", [])}
        return lambda v: str(v) in allowed
    if rule.rule == QualityRule.Check.UNIQUENESS:
        counts = Counter(str(v) for v in values if not _empty(v))
        return lambda v: counts[str(v)] == 1
    if rule.rule == QualityRule.Check.FRESHNESS:
        window = FRESHNESS_WINDOW.get(frequency)  # type: ignore[call-overload]
        if window is None:
            return lambda v: True
        return lambda v: (d := _day(v)) is not None and today - d <= window
    raise InvalidInput("check", _("unknown rule %(rule)s"), rule=rule.rule)


def _passes(rule: QualityRule, values: list[Any], frequency: str, today: date) -> list[bool]:
    test = _test(rule, values, frequency, today)
    irregular = (rule.rule == QualityRule.Check.FRESHNESS
                 and frequency not in FRESHNESS_WINDOW)
    always = rule.rule == QualityRule.Check.NOT_NULL or irregular
    return [test(v) if always or not _empty(v) else False for v in values]


def evaluate(resource: DataResource, rows: list[dict[str, Any]],
             today: date | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Each rule's result (with the first failing rows) and whether the resource passes."""
    day = today or local_date()
    results = []
    passed = True
    found = QualityRule.objects.filter(item__resource=resource).select_related("item")
    for rule in found.order_by("item_id", "id"):
        values = [row.get(rule.item.name) for row in rows]
        outcome = _passes(rule, values, resource.update_frequency, day)
        ok = sum(outcome)
        rate_bp = (ok * 10000) // len(rows) if rows else 0
        meets = rate_bp >= rule.threshold * 100
        passed &= meets
        failing = [n for n, good in enumerate(outcome, start=1) if not good]
        results.append({"item": rule.item.name, "check": rule.rule, "rows_passed": ok,
                        "pass_rate_bp": rate_bp, "threshold_pct": rule.threshold,
                        "meets": meets, "failing_rows": failing[:FAILING_ROWS_LISTED]})
    return results, passed


def require_manager(*, by: Any, resource: DataResource) -> Participant:
    """Who sets the resource's rules and runs its checks: a manager of its provider."""
    access.require_visible(by, resource)
    if not access.can_manage(by, resource):
        raise NotPermitted(_("you do not manage resource %(code)s"), code=resource.code)
    return authz.acting_for(by, resource.provider, kinds=[Kind.PROVIDER])


def run_quality_check(*, by: authz.User, resource: DataResource, sample_name: str,
                      sample: bytes, today: date | None = None) -> QualityCheck:
    """Run the resource's rules over a sample and record the result on the ledger."""
    actor = require_manager(by=by, resource=resource)
    if not QualityRule.objects.filter(item__resource=resource).exists():
        raise InvalidInput("rules", _("resource %(code)s has no quality rules yet: add one "
                                      "first"), code=resource.code)
    parsed = parse_sample(sample_name, sample)
    if not parsed.rows:
        raise InvalidInput("sample", _("has no rows"))
    results, passed = evaluate(resource, parsed.rows, today)
    digest = sm3_hex(sample)
    with transaction.atomic():
        entry = ledger.record(
            actor=actor.code, kind="catalog.quality.checked", subject=versions.subject(resource),
            payload={"resource": resource.code, "version": resource.version,
                     "sample": sample_name, "sample_sm3": digest, "encoding": parsed.encoding,
                     "rows": len(parsed.rows), "results": results, "passed": passed},
            restricted=resource.opening != Opening.OPEN,
        )
        DataResource.objects.filter(pk=resource.pk).update(quality_failing=not passed)
        return QualityCheck.objects.create(
            resource=resource, sample_name=sample_name, sample_digest=digest,
            sample_encoding=parsed.encoding, rows=len(parsed.rows), results=results,
            passed=passed, entry_seq=entry.seq,
        )


def _checked(resource: DataResource, item_name: str, check: str, parameters: Any,
             threshold: Any) -> tuple[Any, dict[str, Any], int]:
    item = resource.items.filter(name=item_name).first()
    if item is None:
        raise InvalidInput("item", _("%(code)s has no data item “%(item)s”"),
                           code=resource.code, item=item_name)
    return item, rules.checked_parameters(check, parameters), rules.checked_threshold(threshold)


def add_rule(*, by: authz.User, resource: DataResource, item_name: str, check: str,
             parameters: dict[str, Any] | None = None, threshold: Any = 100) -> QualityRule:
    """A quality rule on one of the resource's items (its managers only); the parameters
    are checked here for every interface (``catalog.rules``)."""
    require_manager(by=by, resource=resource)
    item, checked, level = _checked(resource, item_name, check, parameters, threshold)
    with transaction.atomic():
        DataResource.objects.select_for_update().get(pk=resource.pk)
        if QualityRule.objects.filter(item__resource=resource).count() >= rules.MAX_RULES:
            raise InvalidInput("rules", _("a resource has at most %(n)s quality rules"),
                               n=rules.MAX_RULES)
        return QualityRule.objects.create(item=item, rule=check, parameters=checked,
                                          threshold=level)


def _rule_of(resource: DataResource, rule_id: int) -> QualityRule:
    found = QualityRule.objects.filter(pk=rule_id, item__resource=resource).first()
    if found is None:
        raise InvalidInput("rule", _("%(code)s has no quality rule %(rule)s"),
                           code=resource.code, rule=rule_id)
    return found


def update_rule(*, by: authz.User, resource: DataResource, rule_id: int, item_name: str,
                check: str, parameters: dict[str, Any] | None = None,
                threshold: Any = 100) -> QualityRule:
    """Change a rule's item, check, parameters or threshold (checked as for a new rule)."""
    require_manager(by=by, resource=resource)
    rule = _rule_of(resource, rule_id)
    item, checked, level = _checked(resource, item_name, check, parameters, threshold)
    with transaction.atomic():
        rule.item, rule.rule, rule.parameters, rule.threshold = item, check, checked, level
        rule.save()
    return rule


def remove_rule(*, by: authz.User, resource: DataResource, rule_id: int) -> None:
    """Delete a rule; checks already recorded keep their results."""
    require_manager(by=by, resource=resource)
    with transaction.atomic():
        _rule_of(resource, rule_id).delete()
