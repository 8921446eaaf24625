"""HTTP helpers shared by the feature blueprints: actor, page-or-fragment rendering, redirects."""
from __future__ import annotations

from flask import make_response, redirect, render_template, request, url_for
from flask_login import current_user

from portal.actor import Actor


def actor(via: str = "web") -> Actor:
    """The acting user and their address, to pass into services."""
    user = current_user if current_user and current_user.is_authenticated else None
    user = user._get_current_object() if user is not None and hasattr(user, "_get_current_object") else user
    return Actor(user=user, client_addr=request.remote_addr or "", via=via)


def htmx_target() -> str | None:
    """The element id an htmx request wants to replace (None for full page loads and boosts)."""
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-Boosted") == "true":
        return None
    return request.headers.get("HX-Target")


def page_or_fragment(page: str, fragments: dict[str, str], status: int = 200, **context):
    """Render the fragment for the htmx target if one was asked for, else the whole page."""
    target = htmx_target()
    template = fragments.get(target, page) if target else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    response.vary.add("HX-Target")
    response.vary.add("HX-Boosted")
    return response


def see_other(endpoint: str, **values):
    """Post/Redirect/Get; for htmx requests the redirect is done by htmx (HX-Location)."""
    url = url_for(endpoint, **values)
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true":
        response = make_response("", 204)
        response.headers["HX-Location"] = url
        return response
    return redirect(url, code=303)


def int_arg(name: str, default: int | None = None) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else default
