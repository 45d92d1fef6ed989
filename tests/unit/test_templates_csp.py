"""The templates hold no code the Content-Security-Policy refuses (web/headers.py): no inline
script, no style attribute, no event-handler attribute, no htmx code to evaluate. Every script
is a file in static/ with the request's nonce; data for a script is a JSON block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
ALL = sorted(TEMPLATES.rglob("*.html"))
_SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_STYLE = re.compile(r"<style\b([^>]*)>", re.IGNORECASE)
NONCE = 'nonce="{{ csp_nonce() }}"'


def test_there_are_templates():
    assert len(ALL) > 40


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_inline_code(path):
    text = path.read_text()
    for attributes in _SCRIPT.findall(text):
        if 'type="application/json"' in attributes:
            continue
        assert " src=" in attributes and NONCE in attributes, attributes
    for attributes in _STYLE.findall(text):
        assert NONCE in attributes, attributes
    assert not re.search(r"\sstyle=", text)
    assert not re.search(r"\son[a-z]+\s*=", text)
    assert not re.search(r"\shx-on|\bjs:|javascript:", text)
