"""Every user-visible message has its Chinese translation, and the committed catalogue is current."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_is_translated_to_chinese():
    result = subprocess.run([sys.executable, "scripts/i18n.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_catalogue_matches_the_translation_tables():
    """The .po the app loads holds the same Chinese as i18n/*.json (run scripts/i18n.py after edits)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import i18n as builder
    finally:
        sys.path.pop(0)
    table = builder.table()
    with builder.CATALOGS["zh_CN"].open("rb") as f:
        catalog = read_po(f)
    stale = [m.id for m in catalog if m.id and isinstance(m.id, str) and table.get(m.id) != m.string]
    assert not stale, f"run `python scripts/i18n.py`: catalogue out of date for {stale[:5]}"
