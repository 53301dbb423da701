"""A live portal and a real Chromium for the browser tests.

The portal runs as ``manage.py runserver`` in a child process on 127.0.0.1, over the test
database (``committed_db``: the demo data the test process loads is really committed, so
the child sees it), with the test process's data directory and master key. Playwright drives
Debian's ``chromium`` package (no browser download); scripts/test installs it with apt-get.
Without it the tests are skipped, or fail when CI=true.

Select or deselect them with ``-m browser`` / ``-m "not browser"``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SHOTS_DIR = REPO_ROOT / "test-artifacts" / "browser"
SERVER_START_SECONDS = 60
# axe-core (tests/browser/vendor/README.md), injected into every page of a context as an
# init script: through the DevTools protocol, so no Content-Security-Policy blocks it.
AXE = Path(__file__).with_name("vendor") / "axe-4.14.1.min.js"
AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""
VIEWPORTS = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the live portal in a real Chromium (deselect with "
        "-m 'not browser')")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason}. In CI the browser tests are mandatory: scripts/test installs "
                    "the Debian packages chromium and fonts-noto-cjk with apt-get.",
                    pytrace=False)
    pytest.skip(f"{reason} (install the Debian package: apt-get install chromium "
                "fonts-noto-cjk; scripts/test does it)")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url(db: dict[str, Any]) -> str:
    """A DATABASE_URL (as config.settings reads it) naming the database ``db`` describes."""
    engine = db["ENGINE"]
    if engine.endswith("sqlite3"):
        return "sqlite:///" + str(Path(db["NAME"]).resolve())
    if "postgresql" in engine:
        auth = quote(db.get("USER") or "", safe="")
        if db.get("PASSWORD"):
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = quote(db.get("HOST") or "localhost", safe="")
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{'@' if auth else ''}{host}{port}/{quote(db['NAME'], safe='')}"
    raise NotImplementedError(f"no DATABASE_URL form for {engine}")


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the portal exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the portal did not answer within {SERVER_START_SECONDS}s:\n"
                       f"{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def portal(chromium: Path, committed_db: None, tmp_path: Path) -> Iterator[str]:
    """The demo scenario in the committed test database, served by a live portal; yields
    its base URL (http://127.0.0.1:PORT)."""
    from django.conf import settings
    from django.db import connection, connections

    from demo import loader as demo

    for _line in demo.load():
        pass
    url = database_url(connection.settings_dict)
    connections.close_all()

    port = _free_port()
    env = dict(os.environ)
    # Eager tasks in the child, as in the embedded default: no broker is running here.
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "SHULIAN_DEBUG"):
        env.pop(name, None)
    env.update({
        "DATABASE_URL": url,
        "SHULIAN_DATA_DIR": str(settings.DATA_DIR),
        "SHULIAN_MASTER_KEY": settings.SHULIAN_MASTER_KEY,
        "SHULIAN_SECRET_KEY": settings.SECRET_KEY,
        "SHULIAN_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    })
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    log = SHOTS_DIR / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload",
             "--nostatic"],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture
def browser(portal: str, chromium: Path) -> Iterator[Any]:
    """A headless Chromium. Started after ``portal`` on purpose: while Playwright's sync API
    runs, this thread has an event loop and Django refuses database calls in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium),
                                              args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def accessibility_problems(page: Any) -> list[dict[str, Any]]:
    """The page's serious and critical axe-core violations (WCAG 2.1 A and AA)."""
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN, AXE_RULES)
    return found


def overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate(
        "() => document.documentElement.scrollWidth - window.innerWidth"))


def new_person_context(browser: Any, base_url: str, *, viewport: str = "desktop",
                       locale: str = "zh-CN") -> Any:
    context = browser.new_context(base_url=base_url, locale=locale,
                                  viewport=VIEWPORTS[viewport], accept_downloads=True)
    context.add_init_script(path=str(AXE))
    return context


class Screenshots:
    """Numbered full-page screenshots under test-artifacts/browser/<folder>/, each page
    also checked with axe-core and for sideways overflow; ``problems`` collects what
    was found, for the test to assert at its end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken: list[Path] = []
        self.problems: list[str] = []
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()

    def __call__(self, page: Any, name: str, *, ours: bool = True) -> Path:
        """``ours=False`` for a vendored tool's page (Swagger UI): screenshotted, but its
        markup is not checked with axe-core (it is not ours to mend)."""
        page.wait_for_load_state("load")
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        for violation in accessibility_problems(page) if ours else []:
            self.problems.append(f"{name} ({page.url}): axe {violation['impact']} "
                                 f"{violation['id']}: {violation['help']} "
                                 f"{violation['nodes']}")
        wider = overflow(page)
        if wider > 0:
            self.problems.append(f"{name} ({page.url}): {wider}px wider than the window")
        return path


@pytest.fixture
def shots() -> Screenshots:
    return Screenshots(SHOTS_DIR / "story")
