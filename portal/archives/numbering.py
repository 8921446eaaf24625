"""Archive numbers 档案编号 (policy 004 §11): unique, never reused, from a configurable template."""
from __future__ import annotations

import string

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from portal.admin.models import get_setting
from portal.archives.models import ArchiveNumberSequence
from portal.errors import ValidationFailed
from portal.extensions import db

TEMPLATE_FIELDS = {"prefix", "year", "type_code", "seq"}


def validate_template(template: str) -> None:
    """Refuse a template that could produce duplicates or fails to format."""
    try:
        names = {fname for _, fname, _, _ in string.Formatter().parse(template) if fname is not None}
    except ValueError as exc:
        raise ValidationFailed(_l("The template is malformed: %(error)s", error=str(exc))) from exc
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise ValidationFailed(_l("Unknown field(s) in the template: %(fields)s. Allowed: "
                                  "{prefix}, {year}, {type_code}, {seq}.",
                                  fields=", ".join(sorted(unknown))))
    # The sequence restarts per (prefix, year, type), so all three must be in the number.
    missing = {"seq", "year", "type_code"} - names
    if missing:
        raise ValidationFailed(_l("The template must contain {seq}, {year} and {type_code} so that "
                                  "numbers stay unique; missing: %(fields)s.",
                                  fields=", ".join(sorted(missing))))
    try:
        format_number(template, prefix="海外", year=2026, type_code="电商", seq=1)
    except (ValueError, KeyError, IndexError) as exc:
        raise ValidationFailed(_l("The template cannot be formatted: %(error)s", error=str(exc))) from exc


def format_number(template: str, *, prefix: str, year: int, type_code: str, seq: int) -> str:
    return template.format(prefix=prefix, year=year, type_code=type_code, seq=seq)


def next_sequence(prefix: str, year: int, type_code: str) -> int:
    """Take the next value for (prefix, year, type) inside the caller's transaction.

    The row is created if missing (tolerating a concurrent creator), then incremented with a
    single UPDATE … RETURNING, which holds the row lock on PostgreSQL until commit; on SQLite the
    transaction already holds the database write lock.
    """
    key = dict(prefix=prefix, year=year, type_code=type_code)
    exists = sa.select(ArchiveNumberSequence.last_value).filter_by(**key)
    if db.session.execute(exists).first() is None:
        dialect = db.session.get_bind().dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        db.session.execute(insert(ArchiveNumberSequence).values(**key, last_value=0)
                           .on_conflict_do_nothing())
    stmt = (sa.update(ArchiveNumberSequence).filter_by(**key)
            .values(last_value=ArchiveNumberSequence.last_value + 1)
            .returning(ArchiveNumberSequence.last_value))
    return db.session.execute(stmt).scalar_one()


def allocate(type_code: str, year: int) -> str:
    """A new archive number for a customer type code and filing year."""
    template = get_setting("number_template")
    prefix = get_setting("number_prefix")
    from portal.archives.models import Archive

    while True:
        seq = next_sequence(prefix, year, type_code)
        number = format_number(template, prefix=prefix, year=year, type_code=type_code, seq=seq)
        # A changed template or prefix could meet a number issued earlier: skip, never reuse.
        taken = db.session.scalar(sa.select(Archive.id).where(Archive.number == number))
        if taken is None:
            return number
