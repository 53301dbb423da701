"""Data-quality checks (数据质量): each rule type over CSV and JSON samples, pass rates in basis
points, thresholds, the catalogue's failing flag, and the entry each run records."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model

from catalog import quality, services
from catalog.models import DataResource, QualityCheck, QualityRule
from catalog.quality import FRESHNESS_WINDOW
from crypto.sm3 import sm3_hex
from kernel.errors import InvalidInput, NotPermitted
from ledger import services as ledger
from ledger.models import Payload
from tests.catalog import category_tree, resource, rolled_back
from tests.operators import authority, department, ledger_size, member, one_entry

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 20)
ITEMS = [
    {"name": "code", "data_type": "string"},
    {"name": "capital", "data_type": "decimal"},
    {"name": "status", "data_type": "string"},
    {"name": "updated", "data_type": "date"},
]
RULES = [  # item, check, parameters, threshold (%)
    ("code", "not_null", {}, 75),
    ("code", "pattern", {"pattern": "[0-9A-HJ-NPQRTUWXY]{18}"}, 100),
    ("code", "uniqueness", {}, 100),
    ("capital", "range", {"min": 0, "max": 1_000_000_000}, 50),
    ("status", "enumeration", {"values": ["存续", "注销", "吊销"]}, 100),
    ("updated", "freshness", {}, 100),
]
A, B = "91350100M000100Y43", "91110000600037341L"
ROWS = [
    {"code": A, "capital": 100, "status": "存续", "updated": TODAY.isoformat()},
    {"code": B, "capital": -5, "status": "注销", "updated": str(TODAY - timedelta(days=1))},
    {"code": "", "capital": "abc", "status": "未知", "updated": str(TODAY - timedelta(days=10))},
    {"code": A, "capital": 5000.5, "status": "吊销", "updated": "not a date"},
]
# (rows passed, pass rate in basis points, meets its threshold), in rule order.
EXPECTED = [(3, 7500, True), (3, 7500, False), (1, 2500, False), (2, 5000, True),
            (3, 7500, False), (2, 5000, False)]
# The rows (1 = the first data row) each rule fails, read off ROWS by hand.
FAILING = [[3], [3], [1, 3, 4], [2, 3], [3], [3, 4]]


def csv_of(rows: list[dict]) -> bytes:
    lines = ["code,capital,status,updated"]
    lines += [",".join(str(r[k]) for k in ("code", "capital", "status", "updated"))
              for r in rows]
    return ("\n".join(lines) + "\n").encode()


def build() -> str:
    ledger.ensure_ledger_key()
    body, _ = authority()
    provider = department(name="市场监督管理局", by=body)
    admin = member(provider, "ms-admin")
    member(department(name="交通运输局", by=body), "tr-admin")
    tree = category_tree()
    for code, opening in (("MS-ENTITIES", "open"), ("MS-LICENCES", "not_open")):
        made = resource(admin, code, tree["B0101"], items=ITEMS, opening=opening)
        for item, check, parameters, threshold in RULES:
            quality.add_rule(by=admin, resource=made, item_name=item, check=check,
                             parameters=parameters, threshold=threshold)
    return provider.code


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    yield from rolled_back(django_db_blocker, build)


def admin():
    return get_user_model().objects.get(username="ms-admin")


def target(code: str = "MS-ENTITIES") -> DataResource:
    return DataResource.objects.get(code=code)


def run(sample: bytes, name: str = "sample.csv", code: str = "MS-ENTITIES") -> QualityCheck:
    return quality.run_quality_check(by=admin(), resource=target(code), sample_name=name,
                                     sample=sample, today=TODAY)


def summary(check: QualityCheck) -> list[tuple[int, int, bool]]:
    return [(r["rows_passed"], r["pass_rate_bp"], r["meets"]) for r in check.results]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_each_rule_over_a_sample(world, kind):
    sample = csv_of(ROWS) if kind == "csv" else json.dumps(ROWS, ensure_ascii=False).encode()
    size = ledger_size()
    check = run(sample, f"licences.{kind}")
    assert [(r["item"], r["check"]) for r in check.results] == [(i, c) for i, c, _, _ in RULES]
    assert summary(check) == EXPECTED
    assert [r["failing_rows"] for r in check.results] == FAILING
    assert check.rows == 4 and not check.passed
    payload = one_entry(size, kind="catalog.quality.checked", actor=world,
                        subject="catalog/resource/MS-ENTITIES")
    assert payload == {"resource": "MS-ENTITIES", "version": 1, "sample": f"licences.{kind}",
                       "sample_sm3": sm3_hex(sample), "encoding": "UTF-8", "rows": 4,
                       "results": check.results, "passed": False}
    assert check.entry_seq == size and check.sample_digest == sm3_hex(sample)
    assert target().quality_failing


def test_a_later_passing_run_clears_the_flag(world):
    run(csv_of(ROWS))
    assert target().quality_failing
    good = [{"code": A, "capital": 1, "status": "存续", "updated": TODAY.isoformat()},
            {"code": B, "capital": 2, "status": "注销", "updated": TODAY.isoformat()}]
    check = run(csv_of(good))
    assert check.passed and all(r["pass_rate_bp"] == 10000 for r in check.results)
    assert not target().quality_failing
    assert list(target().quality_checks.values_list("passed", flat=True)) == [True, False]


def test_pass_rates_are_integers_rounded_down(world):
    rows = [{"code": A}, {"code": B}, {"code": ""}]
    results, _ = quality.evaluate(target(), rows, TODAY)
    not_null = results[0]
    assert not_null["pass_rate_bp"] == 6666 and isinstance(not_null["pass_rate_bp"], int)


@pytest.mark.parametrize("frequency", sorted(FRESHNESS_WINDOW))
def test_freshness_follows_the_update_frequency(world, frequency):
    resource_ = target()
    resource_.update_frequency = frequency
    window = FRESHNESS_WINDOW[frequency].days
    rows = [{"updated": str(TODAY - timedelta(days=window))},
            {"updated": str(TODAY - timedelta(days=window + 1))}]
    results, _ = quality.evaluate(resource_, rows, TODAY)
    freshness = next(r for r in results if r["check"] == "freshness")
    assert freshness["rows_passed"] == 1


def test_irregular_updates_are_always_fresh(world):
    resource_ = target()
    resource_.update_frequency = "irregular"
    results, _ = quality.evaluate(resource_, [{"updated": "2001-01-01"}], TODAY)
    assert next(r for r in results if r["check"] == "freshness")["pass_rate_bp"] == 10000


def test_results_of_resources_not_open_are_withheld_on_export(world):
    open_check = run(csv_of(ROWS))
    closed_check = run(csv_of(ROWS), code="MS-LICENCES")
    assert not Payload.objects.get(entry_id=open_check.entry_seq).restricted
    assert Payload.objects.get(entry_id=closed_check.entry_seq).restricted


@pytest.mark.parametrize(
    ("name", "sample", "reason"),
    [
        ("sample.xlsx", b"code\nA\n", "must be a .csv or .json file"),
        ("sample.json", b"{not json", "is not valid JSON"),
        ("sample.json", b'{"code": "A"}', "array of objects"),
        ("sample.json", b"[1, 2]", "array of objects"),
        ("sample.csv", bytes(range(128, 256)) * 4, "is not text in UTF-8, GB18030"),
        ("sample.csv", b"code,capital\n", "has no rows"),
        ("sample.json", b"[]", "has no rows"),
    ],
)
def test_bad_samples_are_refused(world, name, sample, reason):
    size, checks = ledger_size(), QualityCheck.objects.count()
    with pytest.raises(InvalidInput) as info:
        run(sample, name)
    assert info.value.field == "sample" and reason in info.value.reason
    assert ledger_size() == size and QualityCheck.objects.count() == checks
    assert not target().quality_failing


ENCODED = {
    "UTF-8": lambda text: text.encode("utf-8"),
    "UTF-8 (BOM)": lambda text: text.encode("utf-8-sig"),
    "GB18030": lambda text: text.encode("gb18030"),
    "UTF-16": lambda text: text.encode("utf-16"),
}


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_samples_from_chinese_office_software_read_in_their_own_encoding(world, encoding):
    """Excel on Chinese Windows and most government systems export GBK/GB18030 or UTF-16:
    the same table gives the same results whatever it was saved as, and says how it was
    read."""
    check = run(ENCODED[encoding](csv_of(ROWS).decode("utf-8")))
    assert check.sample_encoding == encoding
    assert summary(check) == EXPECTED
    assert [r["failing_rows"] for r in check.results] == FAILING


def test_a_gbk_export_with_only_chinese_values_is_read_as_gb18030(world):
    text = "code,capital,status,updated\n" + "".join(
        f"{A},{n},存续,{TODAY}\n" for n in range(3)) + f"{B},1,吊销,{TODAY}\n"
    check = run(text.encode("gbk"))
    assert check.sample_encoding == "GB18030" and check.rows == 4
    status = next(r for r in check.results if r["check"] == "enumeration")
    assert status["rows_passed"] == 4


def test_rules_are_edited_and_removed_checked_as_new_ones(world):
    rule = QualityRule.objects.get(item__resource=target(), rule="range")
    quality.update_rule(by=admin(), resource=target(), rule_id=rule.pk, item_name="capital",
                        check="range", parameters={"min": -10}, threshold=75)
    rule.refresh_from_db()
    assert (rule.parameters, rule.threshold) == ({"min": -10}, 75)
    with pytest.raises(InvalidInput) as info:
        quality.update_rule(by=admin(), resource=target(), rule_id=rule.pk,
                            item_name="capital", check="pattern", parameters={})
    assert info.value.field == "parameters"
    rule.refresh_from_db()
    assert rule.rule == "range"
    other = get_user_model().objects.get(username="tr-admin")
    with pytest.raises(NotPermitted):
        quality.remove_rule(by=other, resource=target(), rule_id=rule.pk)
    quality.remove_rule(by=admin(), resource=target(), rule_id=rule.pk)
    assert not QualityRule.objects.filter(pk=rule.pk).exists()
    with pytest.raises(InvalidInput) as info:
        quality.remove_rule(by=admin(), resource=target(), rule_id=rule.pk)
    assert info.value.field == "rule"


def test_a_resource_without_rules_cannot_be_checked(world):

    QualityRule.objects.filter(item__resource=target()).delete()
    size = ledger_size()
    with pytest.raises(InvalidInput) as info:
        run(csv_of(ROWS))
    assert info.value.field == "rules" and ledger_size() == size


def test_only_the_provider_runs_checks_and_adds_rules(world):
    other = get_user_model().objects.get(username="tr-admin")
    size, rules = ledger_size(), QualityRule.objects.count()
    with pytest.raises(NotPermitted):
        quality.run_quality_check(by=other, resource=target(), sample_name="s.csv",
                                  sample=csv_of(ROWS))
    with pytest.raises(NotPermitted):
        quality.add_rule(by=other, resource=target(), item_name="code", check="not_null")
    assert ledger_size() == size and QualityRule.objects.count() == rules


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"item_name": "nope", "check": "not_null"}, "item"),
        ({"item_name": "code", "check": "regex"}, "check"),
        ({"item_name": "code", "check": "not_null", "threshold": 0}, "threshold"),
        ({"item_name": "code", "check": "not_null", "threshold": 101}, "threshold"),
    ],
)
def test_bad_rules_name_the_field(world, arguments, field):
    with pytest.raises(InvalidInput) as info:
        quality.add_rule(by=admin(), resource=target(), **arguments)
    assert info.value.field == field


def test_revising_items_keeps_the_rules_of_items_kept(world):
    kept = [dict(item, description="修订") for item in ITEMS if item["name"] != "status"]
    services.revise_resource(by=admin(), resource=target(), items=kept)
    rules = QualityRule.objects.filter(item__resource=target())
    assert sorted(rules.values_list("item__name", "rule")) == sorted(
        (i, c) for i, c, _, _ in RULES if i != "status")
    assert set(target().items.values_list("description", flat=True)) == {"修订"}
