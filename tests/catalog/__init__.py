"""Builders shared by the catalogue tests: a category tree, resources taken to a state
through the services, and grants (made directly, as contracts would make them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from catalog import access, services
from catalog.models import Category, DataResource, ResourceStatus
from contracts.models import Grant
from operators.models import Participant

TREE = [
    # code, name, English name, branch, parent
    ("B", "基础信息", "Base data", "base", None),
    ("B01", "法人单位", "Legal entities", "base", "B"),
    ("B0101", "企业登记", "Company registration", "base", "B01"),
    ("B02", "自然资源", "Natural resources", "base", "B"),
    ("T", "主题信息", "Topics", "topic", None),
    ("T01", "交通出行", "Transport and travel", "topic", "T"),
    ("D", "部门信息", "Departments", "department", None),
    ("D01", "市场监管", "Market supervision", "department", "D"),
]

ITEMS = [
    {"name": "统一社会信用代码", "standard_code": "DE-TEST-0001", "data_type": "string",
     "sensitivity": 1},
    {"name": "法定代表人", "data_type": "string", "sensitivity": 3,
     "personal_information": True, "desensitisation": "mask"},
]


def category_tree() -> dict[str, Category]:
    made: dict[str, Category] = {}
    for code, name, name_en, branch, parent in TREE:
        made[code] = Category.objects.create(code=code, name=name, name_en=name_en,
                                             branch=branch,
                                             parent=made[parent] if parent else None)
    return made


def fields(**overrides: Any) -> dict[str, Any]:
    """A complete set of resource fields (conditional sharing, with its legal basis)."""
    values: dict[str, Any] = {
        "name": "企业登记信息", "name_en": "Company registrations",
        "description": "全市市场主体登记信息", "grade": "general", "sensitivity": 2,
        "sharing": "conditional", "sharing_basis": "《公共数据共享管理办法》第十二条",
        "opening": "open", "update_frequency": "daily", "source_system": "登记系统",
        "data_format": "CSV", "responsible_person": "王敏",
    }
    values.update(overrides)
    return values


def resource(by: AbstractBaseUser, code: str, category: Category, *,
             state: str = ResourceStatus.PUBLISHED, items: list[dict[str, Any]] | None = None,
             provider: Participant | None = None, **overrides: Any) -> DataResource:
    """A resource of ``by``'s provider, created and taken to ``state`` by the services."""
    made = services.create_resource(by=by, code=code, category=category,
                                    items=ITEMS if items is None else items,
                                    provider=provider, **fields(**overrides))
    if state in (ResourceStatus.PUBLISHED, ResourceStatus.WITHDRAWN):
        made = services.publish_resource(by=by, resource=made)
    if state == ResourceStatus.WITHDRAWN:
        made = services.withdraw_resource(by=by, resource=made, reason="停止维护")
    return made


def grant(participant: Participant, resource: DataResource, *, days: int = 30) -> Grant:
    """An active grant and the restricted view it carries (what contracts would create)."""
    now = datetime.now(UTC)
    made = Grant.objects.create(grantee=participant, resource=resource, purpose="测试用途",
                                valid_from=now - timedelta(days=1),
                                valid_until=now + timedelta(days=days))
    access.grant_restricted_view(participant, resource)
    return made


def rolled_back(blocker: Any, build: Callable[[], Any]) -> Iterator[Any]:
    """For a module-scoped fixture: ``build()`` once inside a transaction that is rolled
    back when the module is done. Each test runs in a savepoint inside it (pytest-django
    rolls it back), so tests share the world without seeing each other's changes.

        @pytest.fixture(scope="module")
        def world(django_db_setup, django_db_blocker):
            yield from rolled_back(django_db_blocker, build)
    """
    with blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield built
    finally:
        with blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
