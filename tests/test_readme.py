"""The README's promises that are not commands: every demo account is listed."""

from __future__ import annotations

from pathlib import Path

from demo.participants import credentials

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_demo_account_is_listed_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using the portal"):text.index("## For data providers")]
    for username in [row[0] for row in credentials()] + ["citizen"]:
        assert f"`{username}`" in section, username
