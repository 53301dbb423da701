"""Published resource versions are immutable: the database refuses UPDATE and DELETE."""

from django.db import migrations

from ledger import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection, triggers.CATALOG_TABLES)


def drop(apps, schema_editor):
    triggers.drop(schema_editor.connection, triggers.CATALOG_TABLES)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_initial"), ("ledger", "0002_append_only_triggers")]
    operations = [migrations.RunPython(install, drop)]
