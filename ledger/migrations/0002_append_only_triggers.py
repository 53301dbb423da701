"""Format v1 installed the append-only triggers here. Format v2 replaced v1 before any
ledger was deployed, and 0004_format_v2 installs the triggers on every ledger table (their
SQL names columns that exist only from 0004 on), so this migration does nothing now."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations: list[migrations.operations.base.Operation] = []
