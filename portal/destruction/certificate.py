"""The destruction certificate 销毁清册 (policy 004 §17: 签字确认, 记录销毁时间、方式、人员).

Made once, at execution, as a PDF (A4 portrait, Chinese) through ``portal.printing``; stored with
the application together with its SHA-256, kept for ever and never made again — a later download
returns the very bytes made at execution.
"""
from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale

from portal import printing
from portal.destruction.models import ELECTRONIC_METHOD, DestructionApplication


def context(app: DestructionApplication, executed_at: datetime, keep_name: bool) -> dict:
    records = list(app.records)
    return {
        "app": app, "records": records, "executed_at": executed_at, "keep_name": keep_name,
        "electronic_method": ELECTRONIC_METHOD,
        "totals": {
            "documents": sum(r.documents for r in records),
            "versions": sum(r.versions for r in records),
            "pages": sum(r.pages for r in records),
            "objects": sum(r.objects + r.intake_objects for r in records),
            "bytes": sum(r.bytes_removed for r in records),
        },
        "parts": list(app.department_parts),
    }


def render_html(app: DestructionApplication, executed_at: datetime, keep_name: bool) -> str:
    with force_locale("zh_CN"):
        return render_template("destruction/certificate.html", pdf=True, **context(app, executed_at, keep_name))


def render(app: DestructionApplication, executed_at: datetime, keep_name: bool) -> bytes:
    """The certificate as PDF bytes (outside a request — CLI, tests — a request context is made)."""
    ctx = nullcontext() if has_request_context() else current_app.test_request_context("/")
    with ctx:
        return printing.render_pdf(render_html(app, executed_at, keep_name))
