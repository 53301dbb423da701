"""Ledger format v2: salted payload commitments, keys judged by position, every ledger table
append-only. No ledger in service uses v1, so v1 data is refused rather than converted."""

import django.db.models.deletion
from django.db import migrations, models

from ledger import triggers


def refuse_v1_ledger(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM ledger_entry")
        (count,) = cursor.fetchone()
    if count:
        raise RuntimeError(
            f"this database holds a format v1 ledger ({count} entries); format v2 replaces "
            "v1 and no deployed ledger uses v1, so it is not converted: start from an empty "
            "database (the embedded default: remove $SHULIAN_DATA_DIR/db.sqlite3, by default "
            "var/db.sqlite3, and run scripts/run again)"
        )


def install(apps, schema_editor):
    triggers.install(schema_editor.connection, triggers.LEDGER_TABLES)


def drop(apps, schema_editor):
    triggers.drop(schema_editor.connection, triggers.LEDGER_TABLES)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_witnesses")]

    operations = [
        migrations.RunPython(refuse_v1_ledger, migrations.RunPython.noop),
        migrations.RunPython(drop, install),
        migrations.RemoveField(model_name="ledgerkey", name="revoked_at"),
        migrations.RemoveField(model_name="ledgerkey", name="revocation_reason"),
        migrations.AddField(
            model_name="ledgerkey", name="replaces",
            field=models.CharField(blank=True, default="", help_text="key id it rotates out",
                                   max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="ledgerkey", name="registered_seq",
            field=models.BigIntegerField(unique=True),
        ),
        migrations.AlterModelOptions(name="ledgerkey", options={"ordering": ["registered_seq"]}),
        migrations.CreateModel(
            name="KeyEnd",
            fields=[
                ("key", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT,
                                             primary_key=True, related_name="end",
                                             serialize=False, to="ledger.ledgerkey")),
                ("seq", models.BigIntegerField()),
                ("how", models.CharField(choices=[("revoked", "revoked"),
                                                  ("replaced", "replaced")], max_length=16)),
                ("reason", models.TextField(blank=True, help_text="the revocation's reason, or "
                                            "the successor's key id")),
            ],
        ),
        migrations.AddField(
            model_name="payload", name="salt",
            field=models.CharField(default="", max_length=24),
            preserve_default=False,
        ),
        migrations.RenameField(model_name="entry", old_name="payload_hash",
                               new_name="commitment"),
        migrations.AlterField(
            model_name="entry", name="commitment",
            field=models.CharField(help_text="statement.payload", max_length=64),
        ),
        migrations.RunPython(install, drop),
    ]
