"""Portal pages of the ledger: the explorer, an entry, checkpoints, consistency, and the
"verify" fragment that checks one entry's signature and inclusion proof server-side."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from crypto.canonical import parse
from kernel.errors import NotFound
from ledger import inspection, selectors
from ledger.models import Checkpoint, Entry, LedgerKey
from ledger.protocol.format import parse_time
from ledger.protocol.merkle import inclusion_ranges, verify_consistency
from operators.models import Participant
from policy.visibility import payload_access
from portal import vocabulary
from portal.pages import int_or_none, page_view, paginate
from portal.tables import Column, columns, sorted_by

HEX = re.compile(r"[0-9a-f]{8,64}")
SORTS = {"seq": "seq", "kind": "kind", "actor": "actor", "subject": "subject"}


def _entry_filters(request: HttpRequest) -> dict[str, Any]:
    q = request.GET
    return {"q": q.get("q", "").strip(), "from": int_or_none(q.get("from")),
            "to": int_or_none(q.get("to")), "kind": q.get("kind", "").strip(),
            "actor": q.get("actor", "").strip(), "subject": q.get("subject", "").strip()}


def _search(query: QuerySet[Entry], text: str) -> QuerySet[Entry]:
    """One search box: a seq (``42`` or ``#42``), a leaf hash (8 or more hex digits, a
    prefix), an actor (participant code, or part of its name) or a subject (part of it)."""
    plain = text.strip().lower().lstrip("#")
    if plain.isdigit():
        return query.filter(seq=int(plain))
    if HEX.fullmatch(plain):
        return query.filter(leaf_hash__startswith=plain)
    actors = list(Participant.objects.filter(
        Q(code__iexact=text) | Q(name_zh__icontains=text) | Q(name_en__icontains=text))
        .values_list("code", flat=True)[:50])
    return query.filter(Q(actor__in=actors) | Q(actor__iexact=text)
                        | Q(subject__icontains=text))


@dataclass(frozen=True)
class Row:
    entry: Entry
    label: Any
    actor_name: str
    subject_url: str


def explorer(request: HttpRequest) -> HttpResponse:
    """Entries found by the search box or filtered by seq range, kind, actor and subject
    (prefix); sortable, newest first."""
    f = _entry_filters(request)
    query = selectors.entries(f["from"] or 0, f["to"])
    if f["q"]:
        query = _search(query, f["q"])
    if f["kind"]:
        query = query.filter(kind=f["kind"])
    if f["actor"]:
        query = query.filter(actor=f["actor"])
    if f["subject"]:
        query = query.filter(subject__startswith=f["subject"])
    query, chosen = sorted_by(request, query, SORTS, "-seq")
    page, rest = paginate(request, query.only("seq", "kind", "actor", "subject", "leaf_hash",
                                              "key_id", "recorded"), 30)
    shown = list(page.object_list)
    names = vocabulary.names(e.actor for e in shown)
    rows = [Row(e, vocabulary.kind_label(e.kind), names.get(e.actor, ""),
                vocabulary.subject_url(e.subject)) for e in shown]
    status = selectors.status()
    kinds = Entry.objects.order_by("kind").values_list("kind", flat=True).distinct()
    heads = columns(request, chosen, [
        Column(_("Seq"), "seq", numeric=True), Column(_("What happened"), "kind"),
        Column(_("Actor"), "actor"), Column(_("Subject"), "subject"),
        Column(_("Recorded")), Column(_("Leaf hash"))])
    return render(request, "ledger/explorer.html", {
        "section": "ledger", "page": page, "rows": rows, "query": rest, "f": f,
        "kinds": vocabulary.kind_choices(kinds), "heads": heads,
        "status": status, "settlement": _settlement(status.checkpoint),
    })


def _settlement(checkpoint: Checkpoint | None) -> Any:
    return selectors.settlement(checkpoint) if checkpoint is not None else None


@page_view
def entry(request: HttpRequest, seq: int) -> HttpResponse:
    found = selectors.entry(seq)
    document = parse(found.data)
    statement = selectors.statement(found)
    stored = selectors.payload(seq)
    restricted = stored is not None and stored.restricted
    access = payload_access(request.user, kind=statement["kind"], actor=statement["actor"],
                            subject=statement["subject"], restricted=restricted)
    readable = stored is not None and not stored.erased and access.readable
    payload = stored.payload if readable and stored is not None else None
    payload_text = (json.dumps(payload, ensure_ascii=False, indent=2, default=str)
                    if readable else "")
    return render(request, "ledger/entry.html", {
        "section": "ledger", "entry": found, "document": document, "statement": statement,
        "kind_label": vocabulary.kind_label(statement["kind"]),
        "statement_time": parse_time(statement["time"]),
        "actor_name": vocabulary.names([statement["actor"]]).get(statement["actor"], ""),
        "subject_url": vocabulary.subject_url(statement["subject"]),

        "key": LedgerKey.objects.select_related("end").filter(key_id=statement["key"]).first(),
        "has_payload": stored is not None, "restricted": restricted, "readable": readable,
        "withheld": access.reason,
        "payload": payload, "payload_text": payload_text,
        "salt": stored.salt if readable and stored is not None else "",
        "erased": stored if stored is not None and stored.erased else None,
        "previous": found.seq - 1 if found.seq > 0 else None,
        "next": found.seq + 1 if found.seq + 1 < selectors.size() else None,
        "checkpoint": selectors.checkpoint_covering(found.seq),
    })


@dataclass(frozen=True)
class ProofStep:
    """One hash of an inclusion path: which side it joins on, and the entries it covers."""

    hash: str
    side: str  # "left" or "right"
    first: int
    last: int


def proof_steps(seq: int, tree_size: int, path: list[str]) -> list[ProofStep]:
    """The path bottom-up, each hash with its side (RFC 9162 2.1.3.1: a subtree to the
    right of the leaf joins on the right) and its range of entries."""
    ranges = inclusion_ranges(seq, tree_size) if 0 <= seq < tree_size else []
    return [ProofStep(node, "right" if start > seq else "left", start, end - 1)
            for node, (start, end) in zip(path, ranges, strict=False)]


@require_POST
@page_view
def verify(request: HttpRequest, seq: int) -> HttpResponse:
    checked = inspection.check_entry(seq)
    return render(request, "ledger/_verify.html", {
        "v": checked, "steps": proof_steps(seq, checked.tree_size or 0, checked.path)})


def checkpoints(request: HttpRequest) -> HttpResponse:
    page, rest = paginate(request, selectors.checkpoints().order_by("-size"), 10)
    rows = [{"checkpoint": c, "note": selectors.checkpoint_note(c),
             "settlement": selectors.settlement(c)} for c in page.object_list]
    return render(request, "ledger/checkpoints.html", {
        "section": "ledger", "page": page, "query": rest, "rows": rows,
        "k": selectors.witness_k(), "form": ConsistencyForm(),
    })


class ConsistencyForm(forms.Form):
    old = forms.IntegerField(label=_("Old tree size"), min_value=1)
    new = forms.IntegerField(label=_("New tree size"), min_value=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        old, new = data.get("old"), data.get("new")
        if old is not None and new is not None and old > new:
            self.add_error("new", _("must be at least the old size"))
        return data


def _root_of(size: int) -> tuple[str, bool]:
    """(hex root of the tree of ``size``, whether a signed checkpoint vouches for it)."""
    checkpoint = Checkpoint.objects.filter(size=size).first()
    if checkpoint is not None and inspection.checkpoint_signed(checkpoint):
        return checkpoint.root, True
    return selectors.root(size).hex(), False


def consistency(request: HttpRequest) -> HttpResponse:
    """Prove that the tree of ``old`` entries is a prefix of the tree of ``new``."""
    form = ConsistencyForm(request.GET or None)
    result = None
    if form.is_bound and form.is_valid():
        old, new = form.cleaned_data["old"], form.cleaned_data["new"]
        try:
            path = selectors.consistency_proof(old, new)
        except NotFound as exc:
            form.add_error("new", exc.message)
        else:
            old_root, old_signed = _root_of(old)
            new_root, new_signed = _root_of(new)
            result = {
                "old": old, "new": new, "old_root": old_root, "new_root": new_root,
                "old_signed": old_signed, "new_signed": new_signed,
                "path": [n.hex() for n in path],
                "verified": verify_consistency(old, new, bytes.fromhex(old_root),
                                               bytes.fromhex(new_root), path),
            }
    sizes = list(selectors.checkpoints().values_list("size", flat=True))
    return render(request, "ledger/consistency.html", {
        "section": "ledger", "form": form, "result": result, "sizes": sizes,
    })
