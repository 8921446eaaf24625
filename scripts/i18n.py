"""Build the Chinese message catalogue from the code and the translation tables in ``i18n/``.

Source strings are English (``_("...")`` in Python and templates). Each feature keeps its
Chinese translations in ``i18n/<feature>.json`` ({"English": "中文"}); this script extracts every
msgid, fills ``portal/translations/zh_CN/LC_MESSAGES/messages.po`` and lists what is missing.

    python scripts/i18n.py          # build the catalogue, print missing translations
    python scripts/i18n.py --check  # write nothing; exit 1 when a msgid lacks a Chinese translation
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "build" / "messages.pot"
CATALOGS = {"zh_CN": ROOT / "portal/translations/zh_Hans_CN/LC_MESSAGES/messages.po",
            "en": ROOT / "portal/translations/en/LC_MESSAGES/messages.po"}


def extract() -> None:
    POT.parent.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "_l", "--no-location", "--sort-output", "-o", str(POT), "."],
                   cwd=ROOT, check=True, capture_output=True)


def table() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((ROOT / "i18n").glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def build(check: bool) -> int:
    """Fill the catalogues (or, with ``check``, only report) and count missing translations."""
    extract()
    with POT.open("rb") as f:
        template = read_po(f)
    zh = table()
    missing = []
    for locale, path in CATALOGS.items():
        with POT.open("rb") as f:
            catalog = read_po(f, locale=locale)
        for message in catalog:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            if locale == "zh_CN":
                if msgid in zh:
                    message.string = zh[msgid] if isinstance(message.id, str) else (zh[msgid],)
                else:
                    missing.append(msgid)
        catalog.fuzzy = False
        if check:
            continue  # report only: the committed catalogues stay as they are
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=0, omit_header=False)
    print(f"{len(template)} messages; {len(missing)} without Chinese translation")
    for msgid in missing:
        print("  MISSING:", json.dumps(msgid, ensure_ascii=False))
    return 1 if (check and missing) else 0


if __name__ == "__main__":
    sys.exit(build("--check" in sys.argv))
