"""``portal housekeeping [--dry-run]``: clear what is due (daily from a timer; cron-safe)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.command("housekeeping")
@click.option("--dry-run", is_flag=True, help="Only show what is due; change nothing.")
@with_appcontext
def housekeeping_command(dry_run: bool):
    """Clear the page texts of intake items finished more than housekeeping_text_days (30) days ago
    and delete background jobs finished more than housekeeping_job_days (90) days ago (settings
    on /admin/housekeeping). A second run changes nothing. Recorded on the access register."""
    from flask_babel import gettext as _

    from portal.housekeeping import services

    outcome = services.run(dry_run=dry_run)
    if dry_run:
        click.echo(_("Dry run: nothing was changed. Due now:"))
    elif outcome.changed:
        click.echo(_("Cleared (recorded on the access register):"))
    else:
        click.echo(_("Nothing was due; nothing was changed."))
        return
    click.echo("  " + _("Page texts of finished intake items (finished more than %(days)s days ago): "
                        "%(items)s items, %(pages)s pages", days=outcome.text_days, items=outcome.items,
                        pages=outcome.pages))
    click.echo("  " + _("Finished background jobs (ended more than %(days)s days ago): %(jobs)s jobs; "
                        "references from %(unlinked)s finished intake items removed first",
                        days=outcome.job_days, jobs=outcome.jobs, unlinked=outcome.unlinked))
