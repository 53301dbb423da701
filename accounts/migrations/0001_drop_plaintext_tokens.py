"""API tokens used to be DRF's authtoken rows, stored in plain text and never expiring. They
are knox tokens now (stored as digests); the old table and its secrets go."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token",
                                    reverse_sql=migrations.RunSQL.noop)]
