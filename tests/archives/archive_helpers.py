"""Plain helpers for the archive page tests (imported by the test modules)."""
from __future__ import annotations

import re
from html import unescape


def hx(target: str) -> dict:
    """Headers htmx sends for a request that swaps the element with id ``target``."""
    return {"HX-Request": "true", "HX-Target": target}


def text(response) -> str:
    return response.get_data(as_text=True)


def main_text(response) -> str:
    """The page's <main> with tags stripped and whitespace collapsed (what a reader sees)."""
    html = text(response)
    match = re.search(r"<main[^>]*>(.*)</main>", html, re.S)
    body = match.group(1) if match else html
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def form_values(html: str, form_index: int = -1) -> dict[str, str]:
    """What a browser would submit for a form on the page, unchanged (inputs, selects, textareas)."""
    forms = re.findall(r"<form\b[^>]*>(.*?)</form>", html, re.S)
    body = forms[form_index]
    values: dict[str, str] = {}
    for tag in re.findall(r"<input\b[^>]*>", body):
        name = re.search(r'\bname="([^"]+)"', tag)
        if not name or re.search(r'type="(checkbox|submit)"', tag):
            continue
        value = re.search(r'\bvalue="([^"]*)"', tag)
        values[name.group(1)] = unescape(value.group(1)) if value else ""
    for name, options in re.findall(r'<select\b[^>]*name="([^"]+)"[^>]*>(.*?)</select>', body, re.S):
        tags = re.findall(r"<option\b([^>]*)>", options)
        chosen = next((t for t in tags if re.search(r"\bselected\b", t)), tags[0] if tags else "")
        value = re.search(r'value="([^"]*)"', chosen)
        values[name] = unescape(value.group(1)) if value else ""
    for name, content in re.findall(r'<textarea\b[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', body, re.S):
        values[name] = unescape(re.sub(r"^\r?\n", "", content))  # browsers drop that first newline
    return values
