"""Demo material for scan intake: a scanned batch behind a cover sheet (OCR'd and filed by itself)
and a letter without an archive (waiting in the archivist's queue). The "scans" are PDF pages
drawn with reportlab's built-in Chinese font and rasterised like a scanner would deliver them
(slightly crooked, grey paper), so no font file is needed."""
from __future__ import annotations

import io
from datetime import date

import sqlalchemy as sa

from portal.actor import Actor
from portal.archives.models import Archive
from portal.auth.models import User
from portal.extensions import db

LETTER = ["关于续签跨境营销服务合同的函", "", "贵公司：",
          "我司与贵公司于二〇二五年签订的海外推广服务合同将于本年末到期。",
          "经双方业务部门沟通，拟按原条款续签一年，服务费用按季度结算，",
          "客户信息的收集、存储和使用遵守《个人信息保护法》及双方保密协议。",
          "请于十五个工作日内书面回复。", "", "此致", "敬礼"]


def _pdf_page(draw) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    draw(c, A4)
    c.showPage()
    c.save()
    return out.getvalue()


def _cover(number: str, doc_type: str, customer: str) -> bytes:
    from reportlab.lib.utils import ImageReader

    from portal.intake import covers

    qr = ImageReader(io.BytesIO(covers.qr_png(covers.payload(number, doc_type))))

    def draw(c, size):
        width, height = size
        c.setFont("STSong-Light", 28)
        c.drawCentredString(width / 2, height - 120, "封 面 分 隔 页")
        c.drawImage(qr, width / 2 - 100, height - 360, 200, 200)
        c.setFont("STSong-Light", 16)
        for i, line in enumerate((f"档案编号：{number}", f"客户：{customer}", f"档案类型：{doc_type}")):
            c.drawString(120, height - 420 - 30 * i, line)
    return _pdf_page(draw)


def _letter(customer: str) -> bytes:
    def draw(c, size):
        width, height = size
        c.setFont("STSong-Light", 13)
        for i, line in enumerate([LETTER[0], "", f"{customer}：", *LETTER[3:]]):
            c.drawString(80, height - 100 - 24 * i, line)
        c.drawString(width - 260, 240, "深圳市海拓跨境营销策划有限公司")
        c.drawString(width - 200, 215, date.today().strftime("%Y年%m月%d日"))
    return _pdf_page(draw)


def _scanned(pdfs: list[bytes], dpi: int = 200) -> bytes:
    """Rasterise one-page PDFs into an image-only PDF, as a scanner would (grey, a little skewed)."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageOps

    from portal.documents.inspect import pdfium_lock

    images = []
    for i, data in enumerate(pdfs):
        with pdfium_lock:
            doc = pdfium.PdfDocument(data)
            image = doc[0].render(scale=dpi / 72).to_pil().convert("L")
            doc.close()
        image = ImageOps.autocontrast(image, cutoff=1).point(lambda v: 40 + v * 0.82)
        image = image.rotate((-0.8, 1.1)[i % 2], resample=Image.Resampling.BICUBIC, fillcolor=250)
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, format="PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


def create_demo_intake() -> int:
    """Send the demo batch and letter to intake (their jobs run when the caller runs jobs)."""
    from portal.intake import services
    from portal.intake.models import IntakeItem

    if db.session.scalar(sa.select(sa.func.count()).select_from(IntakeItem)):
        return 0
    archivist = db.session.scalar(sa.select(User).where(User.username == "archivist"))
    staff = db.session.scalar(sa.select(User).where(User.username == "staff_sales"))
    archive = db.session.scalar(sa.select(Archive).where(
        Archive.status == "filed", Archive.department_id == staff.department_id,
        Archive.sensitivity >= staff.clearance).order_by(Archive.id).limit(1))
    if archivist is None or staff is None or archive is None:
        return 0
    batch = _scanned([_cover(archive.number, "往来函件", archive.name), _letter(archive.name)])
    services.receive(Actor(archivist, "demo", "cli"), io.BytesIO(batch), "扫描批次-0001.pdf")
    stray = _scanned([_letter("客户")])
    services.receive(Actor(staff, "demo", "cli"), io.BytesIO(stray), "未写档案号的来函.pdf")
    return 2
