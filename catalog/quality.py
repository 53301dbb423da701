"""Data-quality checks (数据质量): rules per data item, run over a sample file.

A run reads a CSV (header row) or JSON (array of objects) sample, computes each rule's pass
rate and records it as ``catalog.quality.checked``; a resource with a rule below its
threshold is flagged in the catalogue. Rates are written in basis points (integers), as
the ledger allows no floats.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import transaction

from catalog import access, rules, versions
from catalog.models import DataResource, Frequency, Opening, QualityCheck, QualityRule
from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput, NotPermitted
from kernel.patterns import compile_pattern, full_match
from kernel.uploads import MiB, check_size
from ledger import services as ledger
from operators import authz
from operators.models import Kind, Participant

MAX_SAMPLE = 20 * MiB
FRESHNESS_WINDOW = {
    Frequency.REALTIME: timedelta(days=1), Frequency.DAILY: timedelta(days=2),
    Frequency.WEEKLY: timedelta(days=8), Frequency.MONTHLY: timedelta(days=32),
    Frequency.QUARTERLY: timedelta(days=93), Frequency.YEARLY: timedelta(days=367),
}


def parse_sample(name: str, data: bytes) -> list[dict[str, Any]]:
    check_size("sample", data, MAX_SAMPLE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("sample", "must be UTF-8 text (CSV or JSON)") from None
    if name.lower().endswith(".json"):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput("sample", f"is not valid JSON: {exc.msg} at line {exc.lineno}")\
                from None
        except (ValueError, RecursionError):
            raise InvalidInput("sample", "is not valid JSON: nested too deeply or a number "
                                         "too long") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InvalidInput("sample", "JSON must be an array of objects")
        return rows
    if name.lower().endswith(".csv"):
        try:
            return list(csv.DictReader(io.StringIO(text)))
        except csv.Error as exc:
            raise InvalidInput("sample", f"is not valid CSV: {exc}") from None
    raise InvalidInput("sample", "must be a .csv or .json file")


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


def _passes(rule: QualityRule, values: list[Any], frequency: str, today: date) -> int:
    p = rule.parameters or {}
    if rule.rule == QualityRule.Check.NOT_NULL:
        return sum(not _empty(v) for v in values)
    present = [v for v in values if not _empty(v)]
    if rule.rule == QualityRule.Check.PATTERN:
        pattern = compile_pattern(p.get("pattern"), f"rules[{rule.pk}].pattern")
        return sum(full_match(pattern, str(v)) for v in present)
    if rule.rule == QualityRule.Check.RANGE:
        low, high = _number(p.get("min")), _number(p.get("max"))
        numbers = [_number(v) for v in present]
        return sum(n is not None and (low is None or n >= low) and (high is None or n <= high)
                   for n in numbers)
    if rule.rule == QualityRule.Check.ENUMERATION:
        allowed = {str(v) for v in p.get("values", [])}
        return sum(str(v) in allowed for v in present)
    if rule.rule == QualityRule.Check.UNIQUENESS:
        counts = Counter(str(v) for v in present)
        return sum(counts[str(v)] == 1 for v in present)
    if rule.rule == QualityRule.Check.FRESHNESS:
        window = FRESHNESS_WINDOW.get(frequency)  # type: ignore[call-overload]
        if window is None:
            return len(values)
        days = [_day(v) for v in present]
        return sum(d is not None and today - d <= window for d in days)
    raise InvalidInput("check", f"unknown rule {rule.rule}")


def evaluate(resource: DataResource, rows: list[dict[str, Any]],
             today: date | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Each rule's result and whether the resource passes as a whole."""
    day = today or datetime.now(UTC).date()
    results = []
    passed = True
    rules = QualityRule.objects.filter(item__resource=resource).select_related("item")
    for rule in rules.order_by("item_id", "id"):
        values = [row.get(rule.item.name) for row in rows]
        ok = _passes(rule, values, resource.update_frequency, day) if rows else 0
        rate_bp = (ok * 10000) // len(rows) if rows else 0
        meets = rate_bp >= rule.threshold * 100
        passed &= meets
        results.append({"item": rule.item.name, "check": rule.rule, "rows_passed": ok,
                        "pass_rate_bp": rate_bp, "threshold_pct": rule.threshold,
                        "meets": meets})
    return results, passed


def require_manager(*, by: Any, resource: DataResource) -> Participant:
    """Who sets the resource's rules and runs its checks: a manager of its provider."""
    access.require_visible(by, resource)
    if not access.can_manage(by, resource):
        raise NotPermitted(f"you do not manage resource {resource.code}")
    return authz.acting_for(by, resource.provider, kinds=[Kind.PROVIDER])


def run_quality_check(*, by: authz.User, resource: DataResource, sample_name: str,
                      sample: bytes, today: date | None = None) -> QualityCheck:
    """Run the resource's rules over a sample and record the result on the ledger."""
    actor = require_manager(by=by, resource=resource)
    rows = parse_sample(sample_name, sample)
    if not rows:
        raise InvalidInput("sample", "has no rows")
    results, passed = evaluate(resource, rows, today)
    if not results:
        raise InvalidInput("rules", f"resource {resource.code} has no quality rules")
    digest = sm3_hex(sample)
    with transaction.atomic():
        entry = ledger.record(
            actor=actor.code, kind="catalog.quality.checked", subject=versions.subject(resource),
            payload={"resource": resource.code, "version": resource.version,
                     "sample": sample_name, "sample_sm3": digest, "rows": len(rows),
                     "results": results, "passed": passed},
            restricted=resource.opening != Opening.OPEN,
        )
        DataResource.objects.filter(pk=resource.pk).update(quality_failing=not passed)
        return QualityCheck.objects.create(
            resource=resource, sample_name=sample_name, sample_digest=digest, rows=len(rows),
            results=results, passed=passed, entry_seq=entry.seq,
        )


def add_rule(*, by: authz.User, resource: DataResource, item_name: str, check: str,
             parameters: dict[str, Any] | None = None, threshold: Any = 100) -> QualityRule:
    """A quality rule on one of the resource's items (its managers only); the parameters
    are checked here for every interface (``catalog.rules``)."""
    require_manager(by=by, resource=resource)
    item = resource.items.filter(name=item_name).first()
    if item is None:
        raise InvalidInput("item", f"{resource.code} has no data item {item_name!r}")
    checked = rules.checked_parameters(check, parameters)
    level = rules.checked_threshold(threshold)
    with transaction.atomic():
        DataResource.objects.select_for_update().get(pk=resource.pk)
        if QualityRule.objects.filter(item__resource=resource).count() >= rules.MAX_RULES:
            raise InvalidInput("rules", f"a resource has at most {rules.MAX_RULES} quality "
                                        "rules")
        return QualityRule.objects.create(item=item, rule=check, parameters=checked,
                                          threshold=level)
