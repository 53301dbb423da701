"""Accept, then integrate: statements queued with the change they record, integrated in
batches by the integrator (ledger.integrator)."""

from django.db import migrations, models

from ledger import store, triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection, triggers.LEDGER_TABLES)


def drop(apps, schema_editor):
    triggers.drop(schema_editor.connection, triggers.LEDGER_TABLES)


def install_functions(apps, schema_editor):
    store.install_functions(schema_editor.connection)


def install_commit_bound(apps, schema_editor):
    triggers.install_commit_bound(schema_editor.connection)


def drop_commit_bound(apps, schema_editor):
    triggers.drop_commit_bound(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_format_v2")]

    operations = [
        migrations.CreateModel(
            name="Pending",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("statement", models.TextField(help_text="the canonical statement bytes")),
                ("signature", models.CharField(max_length=512)),
                ("payload", models.TextField(help_text="the canonical payload bytes")),
                ("salt", models.CharField(max_length=24)),
                ("restricted", models.BooleanField(default=False)),
                ("actor", models.CharField(max_length=128)),
                ("nonce", models.CharField(max_length=512)),
                ("key_id", models.CharField(max_length=64)),
                ("queued_at", models.DateTimeField()),
                ("problem", models.TextField(blank=True)),
            ],
            options={"ordering": ["id"], "verbose_name_plural": "pending statements"},
        ),
        migrations.CreateModel(
            name="Nonce",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("actor", models.CharField(max_length=128)),
                ("nonce", models.CharField(max_length=512)),
            ],
        ),
        migrations.AddConstraint(
            model_name="nonce",
            constraint=models.UniqueConstraint(fields=("actor", "nonce"), name="ledger_nonce_once"),
        ),
        migrations.RunSQL("INSERT INTO ledger_nonce (actor, nonce) "
                          "SELECT actor, nonce FROM ledger_entry", migrations.RunSQL.noop),
        migrations.CreateModel(
            name="IntegratorLease",
            fields=[
                ("ledger", models.CharField(max_length=128, primary_key=True, serialize=False)),
                ("holder", models.CharField(max_length=128)),
                ("expires", models.DateTimeField()),
            ],
        ),
        # SQLite rebuilds ledger_entry to add a unique column: the triggers go with the old
        # table, so they are lifted first and put back after.
        migrations.RunPython(drop, install),
        migrations.AddField(
            model_name="entry", name="pending_id",
            field=models.BigIntegerField(help_text="the queued statement it integrated, if any",
                                         null=True, unique=True),
        ),
        migrations.RunPython(install, drop),
        migrations.RunPython(install_commit_bound, drop_commit_bound),
        migrations.RunPython(install_functions, migrations.RunPython.noop),
    ]
