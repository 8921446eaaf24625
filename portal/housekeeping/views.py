"""``/admin/housekeeping``: the two housekeeping periods (system administrator only, like every page
under /admin) and what the daily run would clear now."""
from __future__ import annotations

from dataclasses import asdict

from flask import flash, render_template, request
from flask_babel import gettext as _

from portal.admin.views import admin_required, bp
from portal.errors import ValidationFailed
from portal.housekeeping import services
from portal.web import actor, see_other


@bp.route("/housekeeping", methods=["GET", "POST"])
@admin_required
def housekeeping():
    values = {attr: str(value) for attr, value in asdict(services.settings()).items()}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {attr: request.form.get(attr, "") for attr in services.SETTING_KEYS}
        try:
            changes = services.save_settings(actor(), values)
        except ValidationFailed as exc:
            errors[exc.detail.get("field") or "form"] = str(exc.message)
        else:
            flash(_("Housekeeping settings saved; the next run uses them.") if changes
                  else _("Nothing was changed."), "success" if changes else "info")
            return see_other("admin.housekeeping")
    due = services.run(actor(), dry_run=True)
    return render_template("housekeeping/settings.html", values=values, errors=errors, due=due,
                           labels=services.LABELS, limits=services.LIMITS,
                           defaults=asdict(services.Settings())), 422 if errors else 200
