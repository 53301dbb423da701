"""Joins two lines of migrations written side by side: the objection's appeal grounds and
the personal-information fields (neither touches the other's columns)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("contracts", "0004_objection_appeal_grounds"),
        ("contracts", "0005_sharing_requested_by"),
    ]

    operations: list[migrations.operations.base.Operation] = []
