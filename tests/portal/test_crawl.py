"""Every portal page, as each demo user sees it: a crawler follows the links of the portal
(every route, a few instances of each) as every demo account and as an anonymous visitor,
in zh-hans, and fails on any 5xx, on any English sentence in a Chinese page (codes, hashes,
proper names and the bytes shown in <pre> blocks aside) and on any raw UTC time."""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, resolve

from demo import loader as demo
from demo.participants import credentials

# Not pages: downloads, the API and its docs, the admin, static files, sign-out.
SKIP = ("/api/", "/admin/", "/static/", "/i18n/", "/accounts/logout/", "/audit/bundle/",
        "/favicon.ico")
PER_ROUTE = 2  # instances of each route (and of each route with a query string) per user
MAX_PAGES = 260  # per user: a bound, never reached by the demo
# Three or more words of Latin letters in a row, two of them in lower case: a sentence.
# "Noto Sans CJK" or "Rongchain Data Applications" (proper names) have no lower-case word.
WORD = r"[A-Za-z][A-Za-z'’-]*"
SENTENCE = re.compile(rf"\b{WORD}(?:[ ,;:]+{WORD}){{2,}}")
# A whole piece of text in lower-case Latin words ("certification", "none"): a code shown
# where its words belong. Demo usernames are the one thing a page shows that way.
LONE_WORDS = re.compile(r"[a-z][a-z _-]{2,}")
UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|\+00:00)")
CODE_CLASSES = {"mono", "code", "note"}


class Visible(HTMLParser):
    """The text a reader sees (no script, style, <pre> or code-styled elements), and the
    links of the page."""

    SKIPPED = {"script", "style", "pre", "code", "template"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.shown: list[str] = []  # all text outside script, style and <pre>
        self.links: list[str] = []
        self.skipping: list[str] = []
        self.hidden: list[str] = []
        self.lone_words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.links.append(str(found["href"]))
        if tag in self.VOID:
            return
        if self.hidden or tag in {"script", "style", "pre", "template"}:
            self.hidden.append(tag)
        classes = set(str(found.get("class") or "").split())
        if self.skipping or tag in self.SKIPPED or classes & CODE_CLASSES \
                or found.get("lang") == "en":
            self.skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()
        if self.hidden and self.hidden[-1] == tag:
            self.hidden.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.text.append(data)
            if LONE_WORDS.fullmatch(data.strip()):
                self.lone_words.append(data.strip())
        if not self.hidden:
            self.shown.append(data)


def english_sentences(text: str) -> list[str]:
    found = []
    for match in SENTENCE.finditer(text):
        words = re.findall(WORD, match.group(0))
        if sum(1 for w in words if w.islower() and len(w) > 1) >= 2:
            found.append(match.group(0))
    return found


@pytest.fixture(scope="module")
def loaded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock(), transaction.atomic():
        for _line in demo.load():
            pass
        yield
        transaction.set_rollback(True)



def route_of(path: str) -> str | None:
    try:
        return str(resolve(path).route)
    except Resolver404:
        return None


def crawl(client: Client) -> tuple[list[str], list[str]]:
    """(every page visited, every problem found)."""
    seen: set[str] = set()
    per_route: Counter[str] = Counter()
    queue = deque(["/"])
    visited, problems = [], []
    while queue and len(visited) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        route = route_of(parts.path)
        if route is None:
            continue
        key = route + ("?" if parts.query else "")
        if per_route[key] >= PER_ROUTE:
            continue
        per_route[key] += 1
        response = client.get(url)
        visited.append(url)
        if response.status_code >= 500:
            problems.append(f"{url}: HTTP {response.status_code}")
            continue
        if "text/html" not in response.get("Content-Type", "") \
                or response.status_code not in (200, 403, 404):
            continue
        page = Visible()
        page.feed(response.content.decode("utf-8"))
        text = " ".join(" ".join(page.text).split())
        problems += [f"{url}: English in a Chinese page: {s!r}" for s in english_sentences(text)]
        problems += [f"{url}: a code instead of words: {w!r}" for w in page.lone_words
                     if w not in USERNAMES]
        shown = " ".join(page.shown)
        problems += [f"{url}: a raw UTC time: {m.group(0)!r}" for m in UTC_TIME.finditer(shown)]
        for link in page.links:
            target = urldefrag(link)[0]
            if target.startswith("/") and not target.startswith(SKIP) \
                    and target not in seen:
                queue.append(target)
    return visited, problems


PEOPLE = [None, "citizen"] + [row[0] for row in credentials()]
USERNAMES = {p for p in PEOPLE if p}


@pytest.mark.django_db
@pytest.mark.parametrize("username", PEOPLE)
def test_every_page_as_each_demo_user(loaded: None, username: str | None) -> None:
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE="zh-CN")
    if username is not None:
        client.force_login(get_user_model().objects.get(username=username))
    visited, problems = crawl(client)
    assert len(visited) > 10, visited
    assert not problems, "\n".join(problems[:40])


def test_the_sentence_detector_finds_english_and_spares_names_and_codes() -> None:
    assert english_sentences("申请已记入账本。 the legal basis is required")
    assert english_sentences("Not valid JSON.") == []  # two words: a label, not a sentence
    assert not english_sentences("数链 Shulian · Noto Sans CJK SC · Rongchain Data Applications")
    assert not english_sentences("contracts.sharing.approved SM3 RFC 8785 API")
    assert UTC_TIME.search("2026-12-09T16:00:00.000000Z")
    assert not UTC_TIME.search("2026-12-10 00:00")


def test_a_code_shown_alone_is_found() -> None:
    page = Visible()
    page.feed('<span class="chip">certification</span><dd>无</dd><dd class="mono">none</dd>'
              "<p>合规认证 certification</p>")
    assert page.lone_words == ["certification"]
