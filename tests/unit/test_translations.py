"""Every user-visible string has a Chinese translation (English is the source language)."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_is_translated_to_chinese(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "-q",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-k",
            "N_",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
    )
    extracted = {
        m.id if isinstance(m.id, str) else m.id[0] for m in read_po(pot.open("rb")) if m.id
    }
    with (ROOT / "translations/zh/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and not m.fuzzy and all(m.string if isinstance(m.string, tuple) else [m.string])
    }
    missing = sorted(extracted - translated)
    assert not missing, f"untranslated (run make messages, then translate): {missing}"


def test_placeholders_survive_translation():
    with (ROOT / "translations/zh/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    import re

    pattern = re.compile(r"%\(\w+\)[sd]")
    for m in catalog:
        if not m.id:
            continue
        source = m.id if isinstance(m.id, str) else m.id[0]
        target = m.string if isinstance(m.string, str) else m.string[0]
        assert sorted(pattern.findall(source)) == sorted(pattern.findall(target)), source
