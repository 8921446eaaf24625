"""Click through the portal in headless Chromium and save screenshots (and the printed register
as PDF) for a human to look at.

    python scripts/screenshots.py [--base http://127.0.0.1:5000] [--out screenshots]

Expects a running portal with demo data (``make run``).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = [
    ("staff_sales", "list", "/"),
    ("staff_sales", "new-org", "/archives/new?kind=organisation"),
    ("head_sales", "list-review", "/?status=submitted"),
    ("archivist", "list-archivist", "/"),
    ("admin", "admin", "/admin/"),
    ("admin", "admin-users", "/admin/users"),
    ("admin", "admin-numbering", "/admin/numbering"),
    ("admin", "admin-types", "/admin/customer-types"),
    ("admin", "admin-departments", "/admin/departments"),
    ("archivist", "register", "/register/"),
    ("staff_marketing", "list-marketing", "/"),
]


def login(page, base, username, password):
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state("networkidle")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:5000")
    parser.add_argument("--out", default="screenshots")
    parser.add_argument("--password", default="demo12345")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        for lang in ("zh_CN", "en"):
            contexts = {}
            for username, name, path in PAGES:
                if username not in contexts:
                    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
                    page = ctx.new_page()
                    page.on("console", lambda m: m.type == "error" and errors.append(f"{m.text}"))
                    login(page, args.base, username, args.password)
                    # The language is remembered on the account: switch when it is not the wanted one.
                    wanted = "en" if lang == "en" else "zh-CN"
                    if page.get_attribute("html", "lang") != wanted:
                        page.click("form.lang-form button")
                        page.wait_for_load_state("networkidle")
                    contexts[username] = page
                page = contexts[username]
                page.goto(args.base + path)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(out / f"{lang}-{name}.png"), full_page=True)
            # an archive page: the first one in the archivist's list
            page = contexts["archivist"]
            page.goto(args.base + "/")
            link = page.locator("a[href^='/archives/']").filter(has_text=re.compile(".+")).first
            link.click()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{lang}-archive-archivist.png"), full_page=True)
            page = contexts["staff_sales"]
            page.goto(args.base + "/")
            page.locator("table a[href^='/archives/']").first.click()
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / f"{lang}-archive-staff.png"), full_page=True)
            reg = contexts["archivist"]
            reg.goto(args.base + "/register/print")
            reg.wait_for_load_state("networkidle")
            reg.pdf(path=str(out / f"{lang}-register.pdf"), format="A4", print_background=True,
                    prefer_css_page_size=True)
            for ctx_page in contexts.values():
                ctx_page.context.close()
        browser.close()
    print(f"screenshots in {out}/")
    for e in errors:
        print("CONSOLE ERROR:", e)


if __name__ == "__main__":
    main()
