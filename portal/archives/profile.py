"""The archive profile's sections and fields, described once (SPEC §1, 000 §2, 004 §10).

Forms, the archive page, the API and masking all read this description, so a field added
here appears everywhere at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from portal.archives.models import INDIVIDUAL, ORGANISATION

BOTH = (INDIVIDUAL, ORGANISATION)


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    type: str = "str"  # str | text | date | choice | int | decimal
    kinds: tuple[str, ...] = BOTH
    required: bool = False
    max_length: int | None = None
    choices: str | None = None  # name of a choice list (see ``portal.archives.forms``)
    personal: bool = False  # masked 脱敏 unless the viewer's clearance allows


@dataclass(frozen=True)
class Section:
    key: str
    label: object
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def fields_for(self, kind: str) -> list[Field]:
        return [f for f in self.fields if kind in f.kinds]


F = Field
SECTIONS: tuple[Section, ...] = (
    Section("basic", _l("Basic information"), (
        F("name", _l("Name"), required=True, max_length=200),
        F("name_en", _l("English name"), max_length=200),
        F("gender", _l("Gender"), "choice", kinds=(INDIVIDUAL,), choices="gender"),
        F("birth_date", _l("Date of birth"), "date", kinds=(INDIVIDUAL,)),
        F("id_number", _l("ID number"), kinds=(INDIVIDUAL,), max_length=40, personal=True),
        F("occupation", _l("Occupation"), kinds=(INDIVIDUAL,), max_length=100),
        F("education", _l("Education"), kinds=(INDIVIDUAL,), max_length=60),
        F("address_overseas", _l("Registered address (overseas)"), kinds=(ORGANISATION,),
          max_length=300, personal=True),
        F("founded_on", _l("Founded on"), "date", kinds=(ORGANISATION,)),
        F("nature", _l("Nature of business"), kinds=(ORGANISATION,), max_length=60),
        F("registered_capital", _l("Registered capital"), kinds=(ORGANISATION,), max_length=60),
        F("legal_representative", _l("Legal representative"), kinds=(ORGANISATION,), max_length=80),
        F("business_scope", _l("Business scope"), "text", kinds=(ORGANISATION,)),
        F("address", _l("Address (domestic)"), max_length=300, personal=True),
        F("phone", _l("Phone"), max_length=40, personal=True),
        F("email", _l("E-mail"), max_length=120, personal=True),
        F("bank_account", _l("Bank account"), max_length=60, personal=True),
    )),
    Section("classification", _l("Classification"), (
        F("customer_type_id", _l("Customer type"), "choice", required=True, choices="customer_type"),
        F("stage", _l("Cooperation stage"), "choice", required=True, choices="stage"),
        F("region", _l("Market / region"), max_length=100),
        F("industry", _l("Industry"), max_length=100),
        F("importance", _l("Importance"), "choice", required=True, choices="importance"),
        F("credit_rating", _l("Credit rating"), "choice", choices="credit"),
        F("sensitivity", _l("Sensitivity"), "choice", required=True, choices="sensitivity"),
        F("contract_signed_on", _l("Contract signed on"), "date"),
        F("terminated_on", _l("Cooperation ended on"), "date"),
    )),
    Section("responsibility", _l("Responsibility"), (
        F("department_id", _l("Department"), "choice", required=True, choices="department"),
        F("responsible_id", _l("Responsible staff"), "choice", choices="responsible"),
    )),
    Section("market", _l("Market information"), (
        F("target_markets", _l("Target markets (countries/regions)"), max_length=300),
        F("positioning", _l("Market positioning"), "text"),
        F("target_customers", _l("Target customers"), "text"),
        F("competition", _l("Competition"), "text"),
    )),
    Section("needs", _l("Needs and preferences"), (
        F("needs", _l("Needs"), "text"),
        F("preferences", _l("Preferences"), "text"),
    )),
    Section("credit", _l("Credit"), (
        F("payment_record", _l("Payment record"), "text"),
    )),
    Section("other", _l("Other"), (
        F("special_needs", _l("Special needs"), "text"),
        F("notes", _l("Notes"), "text"),
    )),
    Section("paper", _l("Paper file location"), (
        F("paper_room", _l("Room"), max_length=60),
        F("paper_cabinet", _l("Cabinet"), max_length=60),
        F("paper_shelf", _l("Shelf"), max_length=60),
        F("paper_box", _l("Box"), max_length=60),
    )),
)

ALL_FIELDS: dict[str, Field] = {f.name: f for s in SECTIONS for f in s.fields}
PERSONAL_FIELDS = frozenset(f.name for f in ALL_FIELDS.values() if f.personal)


def fields_for(kind: str) -> list[Field]:
    return [f for s in SECTIONS for f in s.fields_for(kind)]
