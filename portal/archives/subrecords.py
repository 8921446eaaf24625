"""Profile sub-records (contacts, contracts, logs …) described once for forms, pages and the API."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from portal.archives import models as m
from portal.archives.profile import Field

F = Field


@dataclass(frozen=True)
class SubRecordKind:
    key: str  # URL segment
    model: type
    label: object
    item_label: object
    fields: tuple[Field, ...]
    order_by: str
    # Running logs can be appended to on a filed archive by the staff who work with the customer.
    log: bool = False

    @property
    def list_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.type != "text")[:6] or self.fields[:4]


KINDS: tuple[SubRecordKind, ...] = (
    SubRecordKind("contacts", m.Contact, _l("Key contacts"), _l("contact"), (
        F("name", _l("Name"), required=True, max_length=80),
        F("position", _l("Position"), max_length=80),
        F("phone", _l("Phone"), max_length=40, personal=True),
        F("email", _l("E-mail"), max_length=120, personal=True),
        F("preferred_channel", _l("Preferred channel"), "choice", choices="channel"),
    ), "id"),
    SubRecordKind("cooperation", m.Cooperation, _l("Cooperation and contracts"), _l("cooperation"), (
        F("project", _l("Project"), required=True, max_length=200),
        F("contract_number", _l("Contract number"), max_length=80),
        F("period_start", _l("Period from"), "date"),
        F("period_end", _l("Period to"), "date"),
        F("fee_range", _l("Fee range"), max_length=80),
        F("progress", _l("Progress"), max_length=200),
        F("renewal", _l("Renewal"), max_length=200),
        F("key_terms", _l("Key terms (desensitised)"), "text"),
    ), "period_start"),
    SubRecordKind("transactions", m.Transaction, _l("Transactions"), _l("transaction"), (
        F("traded_on", _l("Date"), "date"),
        F("product", _l("Product"), required=True, max_length=200),
        F("spec", _l("Specification"), max_length=200),
        F("quantity", _l("Quantity"), "decimal"),
        F("price", _l("Price"), "decimal"),
        F("order_number", _l("Order number"), max_length=80),
    ), "traded_on", log=True),
    SubRecordKind("communications", m.Communication, _l("Communication log"), _l("communication"), (
        F("occurred_on", _l("Date"), "date", required=True),
        F("channel", _l("Channel"), "choice", choices="channel"),
        F("topic", _l("Topic"), required=True, max_length=200),
        F("follow_up_on", _l("Next follow-up date"), "date"),
        F("agreements", _l("Agreed"), "text"),
        F("disagreements", _l("Disagreements"), "text"),
    ), "occurred_on", log=True),
    SubRecordKind("services", m.ServiceRecord, _l("Service records"), _l("service record"), (
        F("served_on", _l("Date"), "date", required=True),
        F("service", _l("Service"), required=True, max_length=200),
        F("staff_name", _l("Handled by"), max_length=80),
        F("content", _l("Content"), "text"),
    ), "served_on", log=True),
    SubRecordKind("feedback", m.Feedback, _l("Feedback and complaints"), _l("feedback"), (
        F("received_on", _l("Date"), "date", required=True),
        F("kind", _l("Kind"), "choice", required=True, choices="feedback_kind"),
        F("satisfaction", _l("Satisfaction (1–5)"), "choice", choices="satisfaction"),
        F("description", _l("Description"), "text", required=True),
        F("handling", _l("Handling"), "text"),
        F("result", _l("Result"), "text"),
    ), "received_on", log=True),
    SubRecordKind("anniversaries", m.Anniversary, _l("Birthdays and anniversaries"), _l("date"), (
        F("occasion", _l("Occasion"), required=True, max_length=100),
        F("falls_on", _l("Date"), "date", required=True),
        F("note", _l("Note"), max_length=300),
    ), "falls_on"),
)
BY_KEY = {k.key: k for k in KINDS}
