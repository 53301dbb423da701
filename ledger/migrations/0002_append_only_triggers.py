"""The database itself refuses UPDATE, DELETE and TRUNCATE on the ledger's tables."""

from django.db import migrations

from ledger import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection, triggers.LEDGER_TABLES)


def drop(apps, schema_editor):
    triggers.drop(schema_editor.connection, triggers.LEDGER_TABLES)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(install, drop)]
