"""Make the small CJK font the scan-intake tests render their "scans" with.

Tests must run on a fresh machine with pip alone, where no CJK font is installed. This script
subsets Noto Sans CJK SC (SIL Open Font License 1.1) to the characters the tests can draw and
writes ``tests/fixtures/fonts/NotoSansCJKsc-seeds.otf``:

- every character of the seed texts (``tests/fixtures/seeds/*.txt``) in BOTH scripts — each
  character plus its Simplified (OpenCC t2s) and Traditional (s2t) forms;
- the Chinese characters of the demo data (``portal/demo.py``: customer and person names), the
  default document types, the translation tables (``i18n/*.json``: the cover sheet's wording) and
  the cover-sheet text below;
- printable ASCII, CJK punctuation (U+3000–303F) and the full-width forms (U+FF01–FF5E).

Run it again after adding seed texts or cover-sheet wording (it needs fontTools, which is not a
dependency of the portal: ``.venv/bin/pip install fonttools``)::

    .venv/bin/python scripts/make_test_font.py [--source /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc]
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TARGET = ROOT / "tests" / "fixtures" / "fonts" / "NotoSansCJKsc-seeds.otf"
FACE = "Noto Sans CJK SC"
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# the cover sheet (封面分隔页) and the invoice-like pages the tests draw, beyond the sources above
EXTRA = ("客户档案封面分隔页扫描批次请将本页放在每份材料之前一并扫描档案编号材料类型客户名称打印日期"
         "说明本页不会存入档案系统根据二维码自动归档发票代码号码开票日期校验码金额税额价税合计"
         "购买方销售方名称纳税人识别号地址电话开户行及账号备注收款人复核开票人增值税电子普通专用"
         "印章公章合同专用章财务专用章有限公司股份集团第页共")


def characters() -> str:
    import opencc

    t2s, s2t = opencc.OpenCC("t2s"), opencc.OpenCC("s2t")
    chars: set[str] = set()
    for path in sorted((ROOT / "tests" / "fixtures" / "seeds").glob("*.txt")):
        seed = set(CJK.findall(path.read_text(encoding="utf-8")))
        for char in seed:
            chars.add(char)
            chars.update(CJK.findall(t2s.convert(char) + s2t.convert(char)))
    chars.update(CJK.findall((ROOT / "portal" / "demo.py").read_text(encoding="utf-8")))
    chars.update(CJK.findall((ROOT / "portal" / "config.py").read_text(encoding="utf-8")))
    for path in sorted((ROOT / "i18n").glob("*.json")):
        chars.update(CJK.findall("".join(json.loads(path.read_text(encoding="utf-8")).values())))
    chars.update(CJK.findall(EXTRA))
    chars.update(CJK.findall(s2t.convert(EXTRA)))
    chars.update(chr(c) for c in range(0x20, 0x7F))
    chars.update(chr(c) for c in range(0x3000, 0x3040))
    chars.update(chr(c) for c in range(0xFF01, 0xFF5F))
    chars.update("·—–‘’“”…※№")
    return "".join(sorted(chars))


def face_index(source: Path) -> int:
    from fontTools.ttLib import TTCollection

    collection = TTCollection(str(source), lazy=True)
    for index, font in enumerate(collection.fonts):
        if font["name"].getDebugName(4) == FACE:
            return index
    raise SystemExit(f"{FACE} not found in {source}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args()

    from fontTools import subset
    from fontTools.ttLib import TTFont

    text = characters()
    font = TTFont(str(args.source), fontNumber=face_index(args.source), lazy=False, recalcTimestamp=False)
    options = subset.Options()
    options.layout_features = []  # plain horizontal text: no GSUB variants (halves the size)
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = False  # CFF subroutines kept: smaller
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    # a Modified Version under the OFL: say so in the name (no reserved font name is involved)
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 4):
            record.string = "Noto Sans CJK SC Seeds Subset"
        elif record.nameID in (3, 6):
            record.string = "NotoSansCJKsc-SeedsSubset"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(args.output))
    print(f"{args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: "
          f"{len(text)} characters, {args.output.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
