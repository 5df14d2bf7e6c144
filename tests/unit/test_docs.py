"""The README documents every setting the code reads."""

from __future__ import annotations

from pathlib import Path

from streams.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    text = README.read_text()
    missing = [n for n in Settings.model_fields if f"`CIVICPULSE_{n.upper()}`" not in text]
    assert missing == []


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text()
    assert "make demo" in text
    assert "make test" in text
