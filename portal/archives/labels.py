"""Labels for archive states shown in pages and printouts."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from portal.archives.models import (
    APPROVED,
    DESTROYED,
    DRAFT,
    FILED,
    INDIVIDUAL,
    ORGANISATION,
    REJECTED,
    SUBMITTED,
)

STATUS_LABELS = {
    DRAFT: _l("Draft"),
    SUBMITTED: _l("Awaiting head's review"),
    APPROVED: _l("Awaiting filing"),
    REJECTED: _l("Returned for correction"),
    FILED: _l("Filed"),
    DESTROYED: _l("Destroyed"),
}
KIND_LABELS = {INDIVIDUAL: _l("Individual"), ORGANISATION: _l("Organisation")}
