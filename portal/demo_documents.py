"""Demo material for the demo archives: contracts (PDF), letters (DOCX), invoices (XLSX) and a
scanned page (PNG), stored through the real upload service (encrypted, fixity, register)."""
from __future__ import annotations

import io
import random
from datetime import date, timedelta

import sqlalchemy as sa

from portal.actor import Actor
from portal.extensions import db

DEMO_ADDR = "127.0.0.1"


def _contract_pdf(customer: str, number: str, signed: date, pages: int = 2) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    clauses = [
        "第一条 合作内容：乙方委托甲方提供跨境电商运营、市场推广及售后服务。",
        "第二条 合作期限：自合同签订之日起一年，期满双方无异议的自动续期一年。",
        "第三条 费用与结算：服务费按月结算，乙方应于每月十日前支付上月费用。",
        "第四条 保密义务：双方对在合作中知悉的客户信息、商业秘密负有保密义务，",
        "未经对方书面同意不得向第三方披露，本条款在合同终止后继续有效。",
        "第五条 个人信息保护：双方处理个人信息应遵守《中华人民共和国个人信息保护法》。",
        "第六条 违约责任：任何一方违反本合同约定，应赔偿对方因此遭受的损失。",
        "第七条 争议解决：因本合同引起的争议，双方协商解决；协商不成的，提交甲方所在地人民法院诉讼解决。",
    ]
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    for page in range(pages):
        c.setFont("STSong-Light", 18)
        if page == 0:
            c.drawCentredString(width / 2, height - 80, "服务合同")
            c.setFont("STSong-Light", 11)
            c.drawString(60, height - 120, f"合同编号：{number}")
            c.drawString(60, height - 140, "甲方：星海国际贸易服务有限公司")
            c.drawString(60, height - 160, f"乙方：{customer}")
            c.drawString(60, height - 180, f"签订日期：{signed.isoformat()}")
        c.setFont("STSong-Light", 11)
        y = height - (220 if page == 0 else 80)
        for clause in clauses[page * 4:(page + 1) * 4]:
            c.drawString(60, y, clause)
            y -= 22
        if page == pages - 1:
            c.drawString(60, y - 40, "甲方（盖章）：                    乙方（盖章）：")
        c.setFont("STSong-Light", 9)
        c.drawCentredString(width / 2, 30, f"第 {page + 1} 页 共 {pages} 页")
        c.showPage()
    c.save()
    return out.getvalue()


def _letter_docx(customer: str, contact: str, when: date) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("关于续签合作协议的函", level=1)
    document.add_paragraph(f"{customer}：")
    document.add_paragraph(
        f"贵司{contact}来函已收悉。经我司市场部与客户服务部共同评估，我司同意在原合作协议期满后续签一年，"
        "服务范围、结算方式保持不变。请贵司于十个工作日内回复确认，以便安排合同签订事宜。")
    document.add_paragraph("Re: Renewal of the cooperation agreement — we agree to renew for one year on "
                           "unchanged terms; please confirm within ten working days.")
    document.add_paragraph(f"星海国际贸易服务有限公司 客户服务部\n{when.isoformat()}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _invoice_xlsx(customer: str, rng: random.Random, year: int) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "发票清单"
    sheet.append(["发票号码", "开票日期", "客户", "金额（元）", "税率"])
    for month in range(1, 5):
        sheet.append([f"FP{year}{month:02d}{rng.randint(1000, 9999)}", f"{year}-{month:02d}-15", customer,
                      rng.randint(8, 90) * 1000, "6%"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _scan_png(rng: random.Random) -> bytes:
    """A grey 'scan' of a paper form (no text layer: OCR comes with scan intake)."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (1240, 1754), 236)
    draw = ImageDraw.Draw(img)
    draw.rectangle((90, 90, 1150, 1660), outline=60, width=3)
    for i in range(30):
        y = 220 + i * 45
        draw.line((130, y, 130 + rng.randint(500, 980), y), fill=rng.randint(40, 90), width=6)
    draw.ellipse((850, 1350, 1100, 1600), outline=(150), width=8)  # the seal
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def load_demo_documents(max_archives: int = 12) -> int:
    """Add demo material to filed demo archives that have none yet; returns how many documents."""
    from portal.archives.models import FILED, Archive
    from portal.auth.models import User
    from portal.documents import services
    from portal.documents.models import Document
    from portal.storage import StoreUnavailable

    archivist = db.session.scalar(sa.select(User).where(User.username == "archivist"))
    if archivist is None:
        return 0
    if db.session.scalar(sa.select(Document.id).limit(1)) is not None:
        return 0  # material already there (an earlier demo load or real use): add nothing
    archives = list(db.session.scalars(sa.select(Archive).where(Archive.status == FILED)
                                       .order_by(Archive.id).limit(max_archives)))
    actor = Actor(archivist, DEMO_ADDR, "cli")
    made = 0
    for archive in archives:
        rng = random.Random(archive.id)
        signed = archive.contract_signed_on or date(2026, 3, 1) + timedelta(days=rng.randint(0, 200))
        number = f"HT-{signed.year}-{rng.randint(1, 999):04d}"
        contact = archive.contacts[0].name if archive.contacts else "联系人"
        files = [
            (_contract_pdf(archive.name, number, signed), f"{number} 服务合同.pdf",
             services.Details(doc_type="合同", title=f"服务合同 {number}", doc_date=signed, source="纸质原件扫描")),
            (_letter_docx(archive.name, contact, signed + timedelta(days=300)), "续签函.docx",
             services.Details(doc_type="往来函件", title="关于续签合作协议的函",
                              doc_date=min(signed + timedelta(days=300), date.today()), source="电子邮件")),
        ]
        if rng.random() < 0.6:
            files.append((_invoice_xlsx(archive.name, rng, signed.year), "发票清单.xlsx",
                          services.Details(doc_type="发票", title=f"{signed.year}年发票清单", source="财务部")))
        if rng.random() < 0.5:
            files.append((_scan_png(rng), "scan_0001.png",
                          services.Details(doc_type="资质文件", title="营业执照（扫描件）", source="客户提供")))
        for data, filename, details in files:
            details.sensitivity = archive.sensitivity
            try:
                services.upload(actor, archive.id, io.BytesIO(data), filename, details)
                made += 1
            except StoreUnavailable:
                return made
            except services.Duplicate:
                continue
    return made
