"""Deterministic corpus of archive-like documents for the search benchmark.

Every document is a pure function of ``(seed, doc_id)``: the same id always gives the same text, so
any subset (a worker's share, a ground-truth pass, the ten documents a test looks at) can be made on
its own without generating the rest. The vocabulary comes from the five Chinese customer-archive
policies in ``../shared/seeds/`` (sentences, converted to Simplified with OpenCC, the pinyin
annotations of the scraped Traditional copies removed) plus the names, numbers and phrases an
archive of a cross-border marketing agency holds: companies, people, archive numbers
(``海外-2026-电商-001``), contract numbers (``HT-2026-0042``), products and services.

Mix (by document, fixed by the seed):

* 55 % profiles — 100–400 characters: customer name (Chinese and English), contact person, city,
  product line, archive number, one or two policy sentences;
* 22 % contracts — 1,000–5,000 characters: contract number, parties, clauses, policy paragraphs;
* 10 % letters / communication records — 1,000–4,000 characters;
* 13 % English — 300–3,000 characters (English letters and contract clauses, English names).

About 15 % of the Chinese documents are turned into Traditional script (OpenCC ``s2t``), and about
5 % of all documents write their numbers in full-width forms (``ＨＴ－２０２６－００４２``), as text
pasted from Word or OCR does.

Each document: ``id`` (1…N), ``archive_id`` (about four documents per archive), ``archive_no``,
``department`` (1–8), ``sensitivity`` (1–3), ``kind``, ``script`` (``hans``/``hant``/``en``),
``title``, ``text``.

CLI: ``python bench/search/corpus.py --n 5 --show`` prints documents; ``--stats`` counts.
"""
from __future__ import annotations

import argparse
import functools
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEED = 20260601
SEEDS_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "seeds"  # copies of ../shared/seeds
TYPES = ("电商", "外贸", "本土", "协会", "个人")
YEARS = tuple(range(2019, 2027))
DOCS_PER_ARCHIVE = 4

CITIES = [("深圳市", "Shenzhen"), ("广州市", "Guangzhou"), ("义乌市", "Yiwu"), ("宁波市", "Ningbo"),
          ("杭州市", "Hangzhou"), ("厦门市", "Xiamen"), ("东莞市", "Dongguan"), ("苏州市", "Suzhou"),
          ("青岛市", "Qingdao"), ("佛山市", "Foshan")]
BRANDS = [("海拓", "Haituo"), ("云帆", "Yunfan"), ("锦程", "Jincheng"), ("远航", "Yuanhang"),
          ("博睿", "Borui"), ("星辰", "Xingchen"), ("恒信", "Hengxin"), ("华跃", "Huayue"),
          ("优品", "Youpin"), ("鼎盛", "Dingsheng"), ("嘉禾", "Jiahe"), ("瑞丰", "Ruifeng"),
          ("朗悦", "Langyue"), ("启明", "Qiming"), ("众联", "Zhonglian"), ("卓越", "Zhuoyue"),
          ("宏图", "Hongtu"), ("泰和", "Taihe"), ("安达", "Anda"), ("新润", "Xinrun")]
LINES = [("电子科技", "Electronic Technology"), ("家居用品", "Household Products"), ("服饰", "Garment"),
         ("照明电器", "Lighting Appliance"), ("户外用品", "Outdoor Products"),
         ("五金制品", "Hardware Products"), ("宠物用品", "Pet Products"), ("化妆品", "Cosmetics"),
         ("母婴用品", "Baby Products"), ("汽车配件", "Auto Parts"), ("跨境电商", "Cross-border E-commerce")]
FOREIGN = [("Brightline", "LLC"), ("Lakeshore", "Inc."), ("Summit", "LLC"), ("Redwood", "Inc."),
           ("Nordwind", "GmbH"), ("Rheinblick", "Handels GmbH"), ("Sakura", "Co., Ltd."),
           ("Merlion", "Pte. Ltd."), ("Lotus", "Sdn. Bhd."), ("Falcon", "Trading LLC"), ("Thames", "Ltd"),
           ("Southern Cross", "Pty Ltd")]
FOREIGN_PEOPLE = ["Michael Carter", "Jennifer Lopez", "David Kim", "Sarah Mitchell", "Anna Schmidt",
                  "Lukas Weber", "Tanaka Hiroshi", "Tan Wei Ming", "Ahmed Al-Farsi", "Oliver Smith",
                  "Emily Clarke", "Jack Thompson"]
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏"
            "苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵")
# common surnames weigh more (王 李 张 刘 陈 ≈ 30 % of people)
SURNAME_WEIGHTS = [8, 8, 7, 6, 5, 3, 3, 3, 2, 2] + [1] * (len(SURNAMES) - 10)
GIVEN = ["伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "浩然", "子轩", "宇航", "建国", "志强",
         "俊杰", "文博", "嘉诚", "晓东", "芳", "娜", "敏", "静", "丽", "艳", "婷", "雪", "慧", "颖", "雨涵",
         "欣怡", "梓萱", "佳怡", "思琪", "晓燕", "美玲", "秀英", "诗涵", "梦瑶"]
POSITIONS = ["总经理", "采购经理", "市场总监", "电商运营主管", "品牌经理", "财务经理", "外贸业务员",
             "客户档案管理员", "法务专员", "客服主管"]
OCCUPATIONS = ["亚马逊店铺运营", "独立站店主", "外贸SOHO", "海外买手", "TikTok带货达人", "跨境电商讲师"]
SERVICES = ["亚马逊美国站品牌推广年度服务", "TikTok Shop 达人营销项目", "独立站SEO与内容营销",
            "谷歌广告账户托管", "海外社媒代运营", "欧洲站合规与VAT咨询", "日本乐天店铺开店辅导",
            "中东市场进入调研", "品牌出海全案策划", "海外展会参展策划", "东南亚Shopee店铺代运营"]
CONTRACT_CLAUSES = [
    "甲方委托乙方提供{service}，服务期限自{date}起为期十二个月",
    "服务费用按月结算，甲方应于每月5日前将上月服务费支付至乙方指定账户",
    "双方应对在合作过程中知悉的对方商业秘密和客户信息承担保密义务，保密期限不因本合同终止而终止",
    "任何一方违反本合同约定的，应承担违约责任，并赔偿由此给守约方造成的全部损失",
    "甲方逾期付款超过三十日的，乙方有权暂停服务并要求甲方支付违约金",
    "因本合同引起的争议，双方应友好协商解决；协商不成的，提交乙方所在地人民法院诉讼解决",
    "乙方应按照《个人信息保护法》和《数据安全法》的要求处理甲方提供的客户数据",
    "本合同一式两份，甲乙双方各执一份，自双方签字盖章之日起生效",
    "合同附件包括报价单、服务说明书及客户档案资料清单，与本合同具有同等法律效力",
    "乙方每月向甲方提交广告数据周报和月度复盘报告，ACoS 目标为 25%",
    "如因不可抗力导致合同无法履行，受影响一方应及时通知对方并提供相关证明",
    "合同期满前三十日，双方可协商续签事宜，续签条款以书面补充协议为准",
]
LETTER_LINES = [
    "感谢贵司一直以来对我司工作的支持与信任",
    "现就{service}的执行情况向您作简要汇报",
    "根据合同约定，本季度推广预算已使用约百分之八十",
    "客户投诉已登记并转客户服务部处理，我们将在三个工作日内回复处理结果",
    "请于本周五前确认新品上市推广计划及达人名单",
    "附件为本月广告数据周报及竞品价格监控数据，请查收",
    "如有任何疑问，请随时与我们联系",
    "关于合同续签意向，我司法务将在下周提供修订稿",
    "按照客户档案管理制度，本次沟通记录已归档备查",
]
ENGLISH = [
    "This agreement is made between {company} and Haituo Cross-border Marketing Co., Ltd.",
    "The Client appoints the Agency to provide {service_en} in the United States and Europe.",
    "Both parties shall keep confidential all customer information and business secrets disclosed under this agreement.",
    "Customer data shall be processed only for the purposes of the project and in accordance with the Personal Information Protection Law.",
    "The service fee is payable monthly within thirty days after receipt of the invoice.",
    "Any breach of this agreement shall entitle the non-breaching party to claim damages.",
    "The Agency will deliver weekly advertising reports and a monthly performance review.",
    "Please find attached the marketing plan for the Black Friday and Cyber Monday campaign.",
    "We confirm that the archive of your account has been updated and filed by our archivist.",
    "Our records show that the payment for invoice {contract} is overdue by fifteen days.",
    "We would like to schedule a meeting to discuss the renewal of the marketing services contract.",
    "All archives containing personal data are stored in the secure archive room and may be accessed only with approval.",
    "The customer profile includes contact persons, cooperation history, transactions and complaints.",
    "Thank you for your feedback on the influencer videos; we will add German language content next quarter.",
    "The data protection officer reviews access to customer archives every quarter.",
    "Marketing expenses exceeded the approved budget by eight percent due to automatic bidding.",
]
SERVICES_EN = ["Amazon brand promotion services", "TikTok influencer marketing", "SEO and content marketing",
               "Google Ads account management", "social media management", "EU compliance and VAT consulting"]

# Latin letters, digits and ASCII punctuation → their full-width forms (U+FF01…U+FF5E)
_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}


@dataclass(frozen=True, slots=True)
class Doc:
    id: int
    archive_id: int
    archive_no: str
    department: int
    sensitivity: int
    kind: str
    script: str
    title: str
    text: str

    @property
    def content(self) -> str:
        """All searchable text of the document in one string (what the bench indexes)."""
        return f"{self.title}\n{self.archive_no}\n{self.text}"


@functools.cache
def _t2s():
    import opencc
    return opencc.OpenCC("t2s")


@functools.cache
def _s2t():
    import opencc
    return opencc.OpenCC("s2t")


@functools.cache
def seed_sentences() -> tuple[str, ...]:
    """Sentences of the five seed policies, in Simplified script, without scraping debris."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("*.txt")))
    text = _t2s().convert(text)
    text = re.sub(r"\([a-zü\u00e0-\u01dc]+\)", "", text)  # 規(guī)範 → 規範: pinyin of the scraped copies
    sentences = []
    for s in re.split(r"[。！？；\n]", text):
        s = s.strip(" \t-*#>·")
        if "http" in s or "_第" in s or "下载" in s or len(re.findall(r"[\u4e00-\u9fff]", s)) < 6:
            continue
        sentences.append(s)
    if not sentences:
        raise SystemExit(f"no seed sentences found in {SEEDS_DIR}")
    return tuple(dict.fromkeys(sentences))  # unique, in order


def archive_no(archive_id: int) -> str:
    """海外-{year}-{type}-{seq:03}: 40 (year, type) series, numbered in archive order."""
    combo = archive_id % (len(YEARS) * len(TYPES))
    year, type_code = YEARS[combo // len(TYPES)], TYPES[combo % len(TYPES)]
    return f"海外-{year}-{type_code}-{archive_id // (len(YEARS) * len(TYPES)) + 1:03d}"


def contract_no(doc_id: int) -> str:
    return f"HT-{YEARS[doc_id % len(YEARS)]}-{(doc_id // len(YEARS)) % 10000:04d}"


def _person(rng: random.Random) -> str:
    return rng.choices(SURNAMES, SURNAME_WEIGHTS)[0] + rng.choice(GIVEN)


def _company(rng: random.Random) -> tuple[str, str]:
    (city, city_en), (brand, brand_en), (line, line_en) = (rng.choice(CITIES), rng.choice(BRANDS),
                                                          rng.choice(LINES))
    return f"{city}{brand}{line}有限公司", f"{city_en} {brand_en} {line_en} Co., Ltd."


def _fill(rng: random.Random, parts: list[str], target: int, pool) -> None:
    """Append seed sentences until the text reaches ``target`` characters."""
    size = sum(len(p) + 1 for p in parts)
    while size < target:
        s = rng.choice(pool)
        parts.append(s + "。")
        size += len(s) + 1


def make_doc(doc_id: int, seed: int = SEED) -> Doc:
    rng = random.Random(f"{seed}:{doc_id}")
    pool = seed_sentences()
    archive_id = (doc_id - 1) // DOCS_PER_ARCHIVE + 1
    ano = archive_no(archive_id)
    cno = contract_no(doc_id)
    person, company = _person(rng), _company(rng)
    year = YEARS[doc_id % len(YEARS)]
    date = f"{year}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日"
    service = rng.choice(SERVICES)
    x = rng.random()
    if x < 0.13:
        kind, script = "english", "en"
        fcompany = " ".join(rng.choice(FOREIGN))
        title = f"{rng.choice(['Agreement', 'Letter', 'Meeting notes', 'Profile'])} — {fcompany}"
        parts = [f"Contract No. {cno}. Archive No. {ano}.", f"Contact: {rng.choice(FOREIGN_PEOPLE)}, "
                 f"{rng.choice(['CEO', 'Head of Marketing', 'Purchasing Manager', 'Brand Manager'])}."]
        target = rng.randint(300, 3000)
        size = sum(map(len, parts))
        while size < target:
            s = rng.choice(ENGLISH).format(company=company[1], service_en=rng.choice(SERVICES_EN),
                                           contract=cno)
            parts.append(s)
            size += len(s) + 1
        text = " ".join(parts)
    else:
        script = "hant" if rng.random() < 0.15 else "hans"
        if x < 0.68:
            kind = "profile"
            if rng.random() < 0.3:
                name = person
                intro = f"{person}，{rng.choice(OCCUPATIONS)}，常住{rng.choice(CITIES)[0]}。"
            else:
                name = company[0]
                intro = (f"{company[0]}（{company[1]}），主营{rng.choice(LINES)[0]}，"
                         f"联系人{person}（{rng.choice(POSITIONS)}），电话13{rng.randint(100000000, 999999999)}。")
            title = f"客户档案 {name}"
            parts = [intro, f"档案编号：{ano}。", f"合作项目：{service}。"]
            target = rng.randint(100, 400)
        elif x < 0.90:
            kind = "contract"
            title = f"{service}合同 {cno}"
            parts = [f"合同编号：{cno}", f"甲方：{company[0]}", "乙方：深圳市海拓跨境营销策划有限公司",
                     f"档案编号：{ano}", f"签订日期：{date}", f"甲方代表：{person}"]
            target = rng.randint(1000, 5000)
            clauses = [c.format(service=service, date=date) for c in CONTRACT_CLAUSES]
            for i in range(1, rng.randint(6, 12)):
                parts.append(f"第{i}条 {rng.choice(clauses)}。")
                if rng.random() < 0.5:
                    parts.append(rng.choice(pool) + "。")
        else:
            kind = "letter"
            title = f"致{person}的函（{date}）"
            parts = [f"尊敬的{person}{rng.choice(['先生', '女士'])}：", f"关于合同{cno}（档案{ano}）"]
            for _ in range(rng.randint(3, 7)):
                parts.append(rng.choice(LETTER_LINES).format(service=service) + "。")
            parts.append(f"{_person(rng)}，{rng.choice(POSITIONS)}，{date}")
            target = rng.randint(1000, 4000)
        _fill(rng, parts, target, pool)
        text = "\n".join(parts)
        if script == "hant":
            title, text = _s2t().convert(title), _s2t().convert(text)
    if rng.random() < 0.05:  # numbers pasted from Word / OCR in full-width forms
        text = text.replace(cno, cno.translate(_FULLWIDTH)).replace(f"{year}", f"{year}".translate(_FULLWIDTH))
    return Doc(id=doc_id, archive_id=archive_id, archive_no=ano, department=rng.randint(1, 8),
               sensitivity=rng.choice((1, 2, 2, 3, 3, 3)), kind=kind, script=script, title=title, text=text)


def generate(n: int, seed: int = SEED, start: int = 1, step: int = 1) -> Iterator[Doc]:
    """Documents ``start, start+step, …`` up to ``n`` (ids are 1-based; ``step`` shards the corpus)."""
    for doc_id in range(start, n + 1, step):
        yield make_doc(doc_id, seed)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--show", action="store_true", help="print the documents")
    ap.add_argument("--stats", action="store_true", help="count kinds, scripts and characters")
    args = ap.parse_args(argv)
    from collections import Counter
    kinds, scripts, chars = Counter(), Counter(), 0
    for doc in generate(args.n, args.seed):
        kinds[doc.kind] += 1
        scripts[doc.script] += 1
        chars += len(doc.content)
        if args.show:
            print(f"--- #{doc.id} archive {doc.archive_id} {doc.archive_no} dept {doc.department} "
                  f"level {doc.sensitivity} {doc.kind}/{doc.script} {len(doc.content)} chars\n"
                  f"{doc.title}\n{doc.text}\n")
    if args.stats or not args.show:
        print(f"{args.n} documents, {chars:,} characters (mean {chars / max(args.n, 1):.0f}); "
              f"kinds {dict(kinds)}; scripts {dict(scripts)}; {len(seed_sentences())} seed sentences",
              file=sys.stderr)


if __name__ == "__main__":
    main()
