"""What every portal view shares: domain errors to messages and form errors, 404s for
invisible objects, the actions a user may take on an object, pagination and timelines.

Views parse input, call one service and render; the rules stay in the services. The
buttons of a detail page are ``policy.actions.available_actions``: the state machine's
table, whose guards the service applies too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User as Person
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from kernel.errors import DomainError, InvalidInput, NotFound
from ledger import selectors as ledger
from ledger.models import Entry, LedgerKey
from policy.actions import available_actions
from portal import vocabulary

View = Callable[..., HttpResponse]


def page_view(view: View) -> View:
    """A service's NotFound (missing, or invisible to this user) becomes a 404 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from None

    return wrapper


def post_only(view: View) -> View:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return view(request, *args, **kwargs)

    return wrapper


def run(request: HttpRequest, call: Callable[[], Any], done: str,
        form: forms.Form | None = None, *others: forms.Form) -> Any | None:
    """Call a service; on success flash ``done`` and return its result. A domain error
    becomes a field error on ``form`` or one of ``others`` (InvalidInput naming one of
    their fields), else an error on ``form``, or an error message; NotFound is re-raised
    (a 404). Returns None when the service refused."""
    try:
        result = call()
    except NotFound:
        raise
    except InvalidInput as exc:
        flat = exc.field.replace(".", "_")  # contact.phone is the form's contact_phone
        forms_ = [f for f in (form, *others) if f is not None]
        owner = next((f for f in forms_ if flat in f.fields), None)
        target = flat
        if owner is None:
            target = exc.field.split("[")[0].split(".")[0]
            owner = next((f for f in forms_ if target in f.fields), None)
        if owner is not None:
            owner.add_error(target, exc.reason)
        elif form is not None:
            form.add_error(None, exc.message)
        else:
            messages.error(request, exc.message)
        return None
    except DomainError as exc:
        if form is not None:
            form.add_error(None, exc.message)
        else:
            messages.error(request, exc.message)
        return None
    messages.success(request, done)
    return result if result is not None else True


@dataclass(frozen=True)
class Field:
    """An input of an action's small form: ``widget`` is textarea, text or file."""

    name: str
    label: StrOrPromise
    required: bool = True
    widget: str = "textarea"
    initial: str = ""


@dataclass(frozen=True)
class Action:
    """A button on a detail page: posts ``action`` (and its fields) to ``url``."""

    name: str
    label: str
    url: str
    fields: Sequence[Field] = field(default=())
    style: str = ""

    @property
    def multipart(self) -> bool:
        return any(f.widget == "file" for f in self.fields)


def date_input() -> forms.DateInput:
    """A browser date picker. Its value must be ISO 8601 (``2026-12-09``) whatever the
    language: the picker shows it in the reader's own format, and ignores any other."""
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def model_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField:
    """The form's field ``name``, a choice of model rows (to set its queryset)."""
    found = form.fields[name]
    assert isinstance(found, forms.ModelChoiceField)
    return found


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's field ``name``, a choice (to set its choices)."""
    found = form.fields[name]
    assert isinstance(found, forms.ChoiceField)
    return found


def reason_field(label: StrOrPromise | None = None, required: bool = True) -> Field:
    """A reason box; its default label is read in the language of the page that shows it
    (the field may be made once, at import)."""
    return Field("reason", label or gettext_lazy("Reason"), required)


@dataclass(frozen=True)
class Button:
    """How an action of a state machine looks on its detail page."""

    label: StrOrPromise
    fields: Sequence[Field] = field(default=())
    style: str = ""


def buttons(user: Any, obj: Any, url: str, looks: dict[str, Button]) -> list[Action]:
    """The object's buttons: exactly the actions ``policy.actions.available_actions``
    allows this user now (what the service would accept), in the table's order."""
    return [Action(name, str(looks[name].label), url, looks[name].fields, looks[name].style)
            for name in available_actions(user, obj) if name in looks]


def dispatch(request: HttpRequest, handlers: dict[str, Callable[[], Any]],
             done: dict[str, str], back: str) -> HttpResponse:
    """Run the posted ``action``'s handler and return to the detail page."""
    action = request.POST.get("action", "")
    handler = handlers.get(action)
    if handler is None:
        messages.error(request, _("Unknown action: %(action)s") % {"action": action})
    else:
        run(request, handler, done.get(action, _("Done.")))
    return redirect(back)


def paginate(request: HttpRequest, items: Any, per_page: int = 25) -> tuple[Page, str]:
    """A page of ``items`` and the query string of the other filters (for page links)."""
    page = Paginator(items, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


@dataclass(frozen=True)
class Step:
    """One ledger entry of an object's timeline: what happened in words (the machine kind
    on hover), who did it by name, and, once its payload was erased under the law, (the
    redaction entry's seq, the legal basis)."""

    entry: Entry
    signer: str
    actor_name: str = ""
    erased: tuple[int, str] | None = None

    @property
    def label(self) -> StrOrPromise:
        return vocabulary.kind_label(self.entry.kind)


def timeline(subjects: Iterable[str]) -> list[Step]:
    """Every ledger entry about any of ``subjects``, in ledger order, with who owns the
    signing key, the actor's name and any erasure of its payload."""
    wanted = [s for s in subjects if s]
    entries = list(Entry.objects.filter(subject__in=wanted).order_by("seq"))
    owners = dict(LedgerKey.objects.filter(key_id__in={e.key_id for e in entries})
                  .values_list("key_id", "name"))
    names = vocabulary.names(e.actor for e in entries)
    erased = ledger.redactions_of(e.seq for e in entries)
    return [Step(e, owners.get(e.key_id, "?"), names.get(e.actor, ""), erased.get(e.seq))
            for e in entries]


def person(request: HttpRequest) -> Person:
    """The signed-in person of a page that requires one (``login_required``)."""
    assert isinstance(request.user, Person)
    return request.user


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
