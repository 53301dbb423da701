"""Desensitisation that is checked (数据脱敏): the rule a delivered data item needs, by the
catalogue's declaration.

- An item flagged as personal information (``DataItem.personal_information``) is delivered
  only with exactly the desensitisation its resource declares for it (and the catalogue
  makes every such item declare one: ``catalog.services``).
- Any other item for which the catalogue declares a rule is not delivered in the clear.

A delivery records, per delivered item, the rule applied; its SM3 digest stays the proof of
what was delivered.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from catalog.models import DataItem, Desensitisation


def refusal(item: DataItem, applied: str) -> str | None:
    """Why ``item`` may not be delivered with the rule ``applied``, or None."""
    if applied not in Desensitisation.values:
        return _("must be one of %(choices)s") % {"choices": ", ".join(Desensitisation.values)}
    declared = item.desensitisation
    if item.personal_information and applied != declared:
        return _("%(item)s is personal information: the catalogue requires %(rule)s for it, "
                 "not %(applied)s") % {"item": item.name, "rule": declared, "applied": applied}
    if declared != Desensitisation.NONE and applied == Desensitisation.NONE:
        return _("the catalogue requires %(rule)s for this item") % {"rule": declared}
    return None
