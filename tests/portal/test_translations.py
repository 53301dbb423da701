"""Every user-facing string is translated: after ``makemessages`` (over a copy of the
catalogue, so the checkout is untouched) no zh-hans entry is untranslated or fuzzy, every
translation keeps its placeholders (``msgfmt --check``), and the compiled catalogue that
ships is the one the .po file describes. Domain errors are translated where they are raised
and read in the reader's language, with times in Asia/Shanghai."""

from __future__ import annotations

import gettext
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import polib
import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import translation

from kernel.errors import IllegalTransition, InvalidInput
from kernel.times import local

REPO_ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = REPO_ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory: pytest.TempPathFactory) -> polib.POFile:
    """The zh_Hans catalogue as ``makemessages`` leaves it over today's code."""
    if shutil.which("xgettext") is None:
        pytest.fail("xgettext is missing: scripts/test installs Debian's gettext package")
    locale = tmp_path_factory.mktemp("locale")
    shutil.copytree(REPO_ROOT / "locale", locale, dirs_exist_ok=True)
    with override_settings(LOCALE_PATHS=[locale]):
        call_command("makemessages", locale=["zh_Hans"], no_obsolete=True, verbosity=0,
                     ignore_patterns=["var/*", "test-artifacts/*", "tests/*", "docs/*"])
    return polib.pofile(str(locale / "zh_Hans" / "LC_MESSAGES" / "django.po"))


def test_no_message_is_untranslated_or_fuzzy_after_makemessages(
        fresh_catalogue: polib.POFile) -> None:
    untranslated = [e.msgid for e in fresh_catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in fresh_catalogue.fuzzy_entries()]
    assert not untranslated, f"{len(untranslated)} untranslated: {untranslated[:20]}"
    assert not fuzzy, f"{len(fuzzy)} fuzzy: {fuzzy[:20]}"


def test_the_committed_catalogue_is_what_makemessages_finds(
        fresh_catalogue: polib.POFile) -> None:
    """No message missing from the committed catalogue, and none left over that no code
    uses any more."""
    committed = {e.msgid for e in polib.pofile(str(CATALOGUE / "django.po")) if not e.obsolete}
    fresh = {e.msgid for e in fresh_catalogue if not e.obsolete}
    assert not fresh - committed, sorted(fresh - committed)[:20]
    assert not committed - fresh, sorted(committed - fresh)[:20]


def test_translations_keep_their_placeholders() -> None:
    if shutil.which("msgfmt") is None:
        pytest.fail("msgfmt is missing: scripts/test installs Debian's gettext package")
    done = subprocess.run(["msgfmt", "--check", "-o", "/dev/null",
                           str(CATALOGUE / "django.po")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with (CATALOGUE / "django.mo").open("rb") as compiled:
        shipped = gettext.GNUTranslations(compiled)
    for entry in polib.pofile(str(CATALOGUE / "django.po")).translated_entries():
        if entry.msgid_plural or entry.msgctxt:
            continue
        assert shipped.gettext(entry.msgid) == entry.msgstr, entry.msgid


def test_a_domain_error_is_read_in_the_language_active_when_it_is_read() -> None:
    from django.utils.translation import gettext_lazy as _

    error = InvalidInput("code", _("%(code)s is already in the catalogue"), code="JTYS-001")
    with translation.override("zh-hans"):
        assert error.reason == "JTYS-001 已在目录中"
        assert error.message == "code: JTYS-001 已在目录中"
    with translation.override("en"):
        assert str(error) == "code: JTYS-001 is already in the catalogue"


def test_times_in_messages_are_in_asia_shanghai() -> None:
    from django.utils.translation import gettext_lazy as _

    midnight_in_fuzhou = datetime(2026, 12, 9, 16, 0, tzinfo=UTC)
    error = IllegalTransition(_("grant %(grant)s is valid only from %(time)s"), grant=10,
                              time=local(midnight_in_fuzhou))
    with translation.override("zh-hans"):
        assert error.message == "授权 10 自 2026-12-10 00:00 起才生效"
