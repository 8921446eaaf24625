"""Page helpers shared by the browser tests (import as ``from browser_helpers import …``)."""
from __future__ import annotations

from pathlib import Path

SCREENS = Path("/tmp/screens")


def login(page, base: str, username: str, password: str = "demo12345") -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button.primary")
    page.wait_for_url(f"{base}/**")


def console_errors(page) -> list[str]:
    """A list that collects the page's console errors and uncaught exceptions (CSP refusals too)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return errors


def shot(page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True, caret="initial", animations="allow")
