"""Every route, walked from ``app.url_map``, refuses exactly the users it must refuse.

A new route fails this suite until it is added to ``POLICY`` below with the users who must be
refused — so no route can ship without a server-side permission check and a register entry.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db

USERS = ("admin", "archivist", "manager", "supervisor", "head_sales", "staff_sales",
         "head_marketing", "staff_marketing", "head_service")
EVERYONE = frozenset(USERS)
A_VIEWERS = frozenset({"archivist", "manager", "supervisor", "head_sales", "staff_sales"})
REGISTER_READERS = frozenset({"archivist", "supervisor"})
LEDGER_READERS = frozenset({"archivist", "supervisor", "manager", "head_sales", "head_marketing", "head_service"})
CREATORS = frozenset({"head_sales", "staff_sales", "head_marketing", "staff_marketing", "head_service"})
HEADS = frozenset({"head_sales", "head_marketing", "head_service"})
BORROWERS = EVERYONE - {"admin", "archivist"}  # the archivist lends, the administrator opens no archives
LOAN_REGISTER_READERS = HEADS | {"archivist", "supervisor", "manager"}  # heads: their department's loans
INTAKE_USERS = CREATORS | {"archivist"}  # scan intake: staff, heads and the archivist

PUBLIC = "public"  # reachable without logging in
# endpoint → (subject, users allowed). Everyone else must get 403 and a register entry.
# Subjects: A = filed 二级 archive of 销售部 (responsible staff_sales); D = draft of staff_sales;
# S = submitted archive of staff_sales; P = approved archive awaiting filing.
POLICY: dict[str, tuple[str, frozenset | str]] = {
    "static": ("-", PUBLIC),
    "auth.login": ("-", PUBLIC),
    "auth.set_language": ("-", PUBLIC),
    "health.healthz": ("-", PUBLIC),
    "auth.logout": ("-", EVERYONE),
    "archives.index": ("-", EVERYONE - {"admin"}),
    "archives.list_redirect": ("-", EVERYONE - {"admin"}),
    "archives.new": ("-", CREATORS),
    "archives.show": ("A", A_VIEWERS),
    "archives.by_number": ("A", A_VIEWERS),
    "archives.edit": ("D", frozenset({"staff_sales", "head_sales"})),
    "archives.submit": ("D", frozenset({"staff_sales", "head_sales"})),
    "archives.delete": ("D", frozenset({"staff_sales", "head_sales"})),
    "archives.withdraw": ("S", frozenset({"staff_sales"})),
    "archives.approve": ("S", frozenset({"head_sales"})),
    "archives.reject": ("S", frozenset({"head_sales"})),
    "archives.file": ("P", frozenset({"archivist"})),
    "archives.records": ("A", A_VIEWERS),
    "archives.record_row": ("A", A_VIEWERS),
    # a communication may be appended to a filed archive by its department and the archivist …
    "archives.record_new": ("A", frozenset({"staff_sales", "head_sales", "archivist"})),
    # … but a contact of a filed archive changes only through a change request
    "archives.record_edit": ("A", frozenset()),
    "archives.record_delete": ("A", frozenset()),
    "register.index": ("-", REGISTER_READERS),
    "register.print_view": ("-", REGISTER_READERS),
    "register.export_csv": ("-", REGISTER_READERS),
    "register.verify": ("-", REGISTER_READERS),
    # documents of A: listed and opened by A's viewers, added and changed by those who keep its logs
    "documents.for_archive": ("A", A_VIEWERS),
    "documents.upload": ("A", frozenset({"staff_sales", "head_sales", "archivist"})),
    "documents.detail": ("DOC", A_VIEWERS),
    "documents.edit": ("DOC", frozenset({"staff_sales", "head_sales", "archivist"})),
    "documents.replace": ("DOC", frozenset({"staff_sales", "head_sales", "archivist"})),
    # DOC = a document uploaded by staff_sales to A; the inline URL carries staff_sales's ticket
    "documents.view": ("DOC", A_VIEWERS),
    "documents.inline": ("DOC", frozenset({"staff_sales"})),
    "documents.download": ("DOC", A_VIEWERS),
    "documents.print_view": ("DOC", A_VIEWERS),
    "documents.thumbnail": ("DOC", A_VIEWERS),
    # search: everyone who opens archives; hits are filtered per user (tests/search)
    "search.index": ("-", EVERYONE - {"admin"}),
    # borrowing 借阅 (issue 5). L = a loan of A applied for by staff_sales, awaiting head_sales.
    # Deciders in the loan's chain who are not yet due (the archivist) get 409, not 403.
    "borrowing.index": ("-", EVERYONE - {"admin"}),  # the archivist is sent to the desk
    "borrowing.new": ("-", BORROWERS),
    "borrowing.archive_search": ("-", BORROWERS),
    "borrowing.show": ("L", frozenset({"staff_sales", "head_sales", "archivist", "manager", "supervisor"})),
    "borrowing.approve": ("L", frozenset({"head_sales", "archivist"})),
    "borrowing.reject": ("L", frozenset({"head_sales", "archivist"})),
    "borrowing.withdraw": ("L", frozenset({"staff_sales"})),
    "borrowing.lend": ("L", frozenset({"archivist"})),
    "borrowing.extend": ("L", frozenset({"staff_sales"})),
    "borrowing.check_in": ("L", frozenset({"archivist"})),
    "borrowing.desk": ("-", frozenset({"archivist"})),
    "borrowing.approvals": ("-", HEADS | {"manager"}),
    "borrowing.register": ("-", LOAN_REGISTER_READERS),
    "borrowing.register_print": ("-", LOAN_REGISTER_READERS),
    "borrowing.register_export": ("-", LOAN_REGISTER_READERS),
    # notifications: everyone has their own (another user's id changes nothing / is not found)
    "notifications.index": ("-", EVERYONE),
    "notifications.open_": ("-", EVERYONE),
    "notifications.read": ("-", EVERYONE),
    "notifications.read_all": ("-", EVERYONE),
    "notifications.address": ("-", EVERYONE),
    # query requests 查询申请, change requests 变更申请, the inbox 待办 (issue 5). Q = a pending query
    # request of staff_marketing for A; C = a change of A's name (important) by staff_sales awaiting
    # head_sales; CA = an approved change of A awaiting the archivist.
    "requests.query_index": ("-", EVERYONE - {"admin"}),
    "requests.query_new": ("-", EVERYONE - {"admin"}),
    "requests.query_detail": ("Q", frozenset({"staff_marketing", "archivist", "manager", "supervisor"})),
    "requests.query_approve": ("Q", frozenset({"archivist"})),
    "requests.query_reject": ("Q", frozenset({"archivist"})),
    "requests.query_withdraw": ("Q", frozenset({"staff_marketing"})),
    "requests.settings": ("-", frozenset({"admin"})),
    "requests.change_index": ("-", EVERYONE - {"admin"}),
    "requests.change_print": ("-", EVERYONE - {"admin"}),
    "requests.change_export": ("-", EVERYONE - {"admin"}),
    "requests.change_new": ("A", frozenset({"staff_sales", "head_sales", "archivist"})),
    # the customer-service head decides C's important field without opening A
    "requests.change_detail": ("C", A_VIEWERS | {"head_service"}),
    "requests.change_approve": ("C", frozenset({"head_sales"})),
    "requests.change_reject": ("C", frozenset({"head_sales"})),
    "requests.change_withdraw": ("C", frozenset({"staff_sales"})),
    "requests.change_apply": ("CA", frozenset({"archivist"})),
    "inbox.index": ("-", EVERYONE),
    "inbox.count": ("-", EVERYONE),
    # scan intake 扫描收件 (issue 4): those who add material; I = a file staff_sales sent to intake.
    # Its sender and the archivist decide on it (an undecidable state answers 409, not 403).
    "intake.index": ("-", INTAKE_USERS),
    "intake.item": ("I", frozenset({"staff_sales", "archivist"})),
    "intake.assign": ("I", frozenset({"staff_sales", "archivist"})),
    "intake.reject": ("I", frozenset({"staff_sales", "archivist"})),
    "intake.retry": ("I", frozenset({"staff_sales", "archivist"})),
    "intake.original": ("I", frozenset({"staff_sales", "archivist"})),
    "intake.cover_sheet": ("A", frozenset({"staff_sales", "head_sales", "archivist"})),
    # registers 台账 and handovers 移交 (issue 7). The archive ledger and the handover register print
    # for the archivist, quality, management and heads (their department); H = a handover of a
    # staff_sales archive to head_sales by the archivist, awaiting head_sales's receipt.
    "reports.index": ("-", EVERYONE),  # lists only what the reader may open (maybe nothing)
    "reports.ledger": ("-", LEDGER_READERS),
    "reports.ledger_print": ("-", LEDGER_READERS),
    "reports.handovers": ("-", EVERYONE - {"admin"}),
    "reports.handovers_print": ("-", LEDGER_READERS),
    "reports.handover_new": ("-", HEADS | {"archivist"}),
    "reports.handover": ("H", frozenset({"staff_sales", "head_sales", "archivist", "supervisor", "manager"})),
    "reports.handover_print": ("H", frozenset({"staff_sales", "head_sales", "archivist", "supervisor",
                                               "manager"})),
    "reports.handover_confirm": ("H", frozenset({"head_sales"})),
    # retention (issue 7): reviews decided by the archivist, read by quality and management; holds
    # placed and lifted by management; rules configured by the administrator (rule 1 = the default)
    "retention.index": ("-", frozenset({"archivist", "supervisor", "manager"})),
    "retention.reviews": ("-", frozenset({"archivist", "supervisor", "manager"})),
    "retention.reviews_print": ("-", frozenset({"archivist", "supervisor", "manager"})),
    "retention.review": ("A", frozenset({"archivist", "supervisor", "manager"})),
    "retention.retain": ("A", frozenset({"archivist"})),
    "retention.propose": ("A", frozenset({"archivist"})),
    "retention.holds": ("-", frozenset({"archivist", "supervisor", "manager"})),
    "retention.hold_find": ("-", frozenset({"manager"})),
    "retention.hold_place": ("A", frozenset({"manager"})),
    "retention.hold_lift": ("A", frozenset({"manager"})),
    "retention.rules": ("-", frozenset({"admin"})),
    "retention.rule_new": ("-", frozenset({"admin"})),
    "retention.rule_edit": ("-", frozenset({"admin"})),
    "retention.rule_delete": ("-", frozenset({"admin"})),
    # oversight (issue 7): the KPI dashboard for management, quality, the archivist and heads (their
    # department); monthly checks by staff and heads, an archive's check by its responsible staff only
    "oversight.dashboard": ("-", HEADS | {"archivist", "manager", "supervisor"}),
    "oversight.checks_page": ("-", CREATORS),
    "oversight.confirm": ("A", frozenset({"staff_sales"})),
    "oversight.confirm_all": ("-", CREATORS),
    # backups 备份 (issue 7): the backup register, read by the administrator, archivist and quality
    "backup.index": ("-", frozenset({"admin", "archivist", "supervisor"})),
    "backup.print_view": ("-", frozenset({"admin", "archivist", "supervisor"})),
    # quarterly inspection 抽查 (issue 7): drawn, checked and closed by the archivist; read by quality,
    # management and the heads whose department was sampled (N = an inspection of 销售部 sampling A,
    # NS = A's sample, F = a finding on A, R = its rectification, assigned to staff_sales)
    "inspection.index": ("-", HEADS | {"archivist", "supervisor", "manager"}),
    "inspection.list_print": ("-", HEADS | {"archivist", "supervisor", "manager"}),
    "inspection.new": ("-", frozenset({"archivist"})),
    "inspection.show": ("N", frozenset({"archivist", "supervisor", "manager", "head_sales"})),
    "inspection.record_print": ("N", frozenset({"archivist", "supervisor", "manager", "head_sales"})),
    "inspection.close": ("N", frozenset({"archivist"})),
    "inspection.sample": ("NS", frozenset({"archivist", "supervisor", "manager", "head_sales"})),
    "inspection.check": ("NS", frozenset({"archivist"})),
    "inspection.assign": ("F", frozenset({"archivist"})),
    "inspection.rectification": ("R", frozenset({"archivist", "supervisor", "manager", "head_sales",
                                                 "staff_sales"})),
    "inspection.rectification_done": ("R", frozenset({"staff_sales"})),
    "inspection.rectification_close": ("R", frozenset({"archivist"})),
    "inspection.rectification_return": ("R", frozenset({"archivist"})),
    "inspection.settings": ("-", frozenset({"admin"})),
    # destruction 销毁 (issue 7): applied for by the archivist or management, decided by the
    # customer-service head → the heads of the owning departments → management, executed by the
    # archivist; XD = a manager's application (business ended) for A, awaiting head_service.
    "destruction.index": ("-", HEADS | {"archivist", "supervisor", "manager"}),
    "destruction.new": ("-", frozenset({"archivist", "manager"})),
    "destruction.show": ("XD", frozenset({"archivist", "supervisor", "manager", "head_service", "head_sales"})),
    "destruction.approve": ("XD", frozenset({"head_service"})),
    "destruction.reject": ("XD", frozenset({"head_service"})),
    "destruction.withdraw": ("XD", frozenset({"manager"})),
    "destruction.execute": ("XD", frozenset({"archivist"})),
    "destruction.certificate": ("XD", frozenset({"archivist", "supervisor", "manager"})),
    "destruction.register": ("-", frozenset({"archivist", "supervisor", "manager"})),
    "destruction.register_print": ("-", frozenset({"archivist", "supervisor", "manager"})),
    "destruction.settings": ("-", frozenset({"admin"})),
}
# The administrator's start page is administration: the archive list sends them there (no list shown).
REDIRECTED = {("admin", "archives.index"): "/admin/", ("admin", "archives.list_redirect"): "/",
              ("admin", "search.index"): "/admin/"}
ADMIN_ONLY_PREFIX = "admin."  # every admin.* endpoint: only the system administrator
API_PREFIX = "api."  # bearer-token API, covered below and in tests/api


def _policy(endpoint: str):
    if endpoint in POLICY:
        return POLICY[endpoint]
    if endpoint.startswith(ADMIN_ONLY_PREFIX):
        return ("-", frozenset({"admin"}))
    return None


@pytest.fixture
def subjects(make_archive, user):
    from portal.actor import Actor
    from portal.archives import services
    from portal.archives.subrecords import BY_KEY

    a = make_archive(status="draft", name="权限测试甲公司", phone="13812341234")
    contact = services.add_record(Actor(user("staff_sales")), a, BY_KEY["contacts"],
                                  {"name": "联系人甲", "phone": "13900001111"})
    services.submit(Actor(user("staff_sales")), a)
    services.approve(Actor(user("head_sales")), a)
    services.file_archive(Actor(user("archivist")), a)
    doc = _document_of(a, user("staff_sales"))
    loan = _loan_of(a, user)
    return {
        "L": loan, **_requests_of(a, user), "I": _intake_item_of(user),
        "H": _handover_of(make_archive, user),
        **_inspection_of(a, user), "XD": _destruction_of(a, user),
        "doc": doc, "A": a, "D": make_archive(status="draft"), "S": make_archive(status="submitted"),
        "P": make_archive(status="approved"), "contact": contact,
    }


def _document_of(archive, author):
    import io

    from PIL import Image

    from portal.actor import Actor
    from portal.documents import services as documents

    scan = io.BytesIO()
    Image.new("RGB", (40, 60), (230, 230, 230)).save(scan, format="PNG")
    scan.seek(0)
    return documents.upload(Actor(author, "127.0.0.1"), archive.id, scan, "权限测试.png",
                            documents.Details(doc_type="合同"))


def _inspection_of(archive, user):
    """A quarterly inspection (issue 7) of 销售部 that sampled A (sample NS), with a finding on A (F)
    whose rectification (R) is assigned to staff_sales."""
    from portal.actor import Actor
    from portal.inspection import services as inspections

    archivist = Actor(user("archivist"), "127.0.0.1")
    inspection = inspections.draw(archivist, inspections.DrawForm(
        quarter="2026-Q4", scope=f"department:{archive.department_id}", sample="100%", seed="permissions"))
    sample = next(s for s in inspection.samples if s.archive_id == archive.id)
    values = inspections.CheckValues.of(sample)
    values.results["paper"] = ("nonconform", "权限测试")
    inspections.save_checks(archivist, sample.id, values)
    finding = next(c for c in sample.checks if c.key == "paper")
    rect = inspections.assign(archivist, finding.id, assignee_id=user("staff_sales").id)
    return {"N": inspection, "NS": sample, "F": finding, "R": rect}


def _destruction_of(archive, user):
    """A destruction application (issue 7) of A by management (business ended), awaiting the
    customer-service head."""
    from portal.actor import Actor
    from portal.destruction import services as destruction

    return destruction.apply(Actor(user("manager"), "127.0.0.1"), grounds="business", reason="权限测试",
                             lines=[destruction.Line(archive.id, "")])


def _handover_of(make_archive, user):
    """A handover (issue 7) of another filed archive of staff_sales to head_sales by the archivist."""
    from portal import workcal
    from portal.actor import Actor
    from portal.reports import handovers

    archive = make_archive(status="filed", name="权限测试移交公司")
    form = handovers.HandoverForm(giver_id=user("staff_sales").id, receiver_id=user("head_sales").id,
                                  reason="resigned", handover_date=workcal.today(), selected=[archive.id],
                                  versions={archive.id: archive.version})
    return handovers.hand_over(Actor(user("archivist"), "127.0.0.1"), form).handover


def _intake_item_of(user):
    """A file staff_sales sent to scan intake (issue 4), not yet processed."""
    import io

    from portal.actor import Actor
    from portal.intake import services as intake

    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>"
           b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    return intake.receive(Actor(user("staff_sales"), "127.0.0.1"), io.BytesIO(pdf), "权限测试扫描.pdf")


def _loan_of(archive, user):
    """A loan of ``archive`` applied for by staff_sales, awaiting head_sales (issue 5)."""
    from portal import workcal
    from portal.actor import Actor
    from portal.workflows import borrowing

    pickup = workcal.today() if workcal.is_working_day(workcal.today()) else workcal.add_working_days(
        workcal.today(), 1)
    return borrowing.apply(Actor(user("staff_sales"), "127.0.0.1"), borrowing.Application(
        archive_ids=[archive.id], purpose="权限测试", period_days=3, pickup_date=pickup))


def _requests_of(archive, user) -> dict:
    """Q, C and CA (see POLICY) through the real services (issue 5). Their evidence is a document
    of its own: the customer-service head may open C's evidence, not DOC."""
    import io

    from PIL import Image

    from portal.actor import Actor
    from portal.documents import services as documents
    from portal.workflows import change_requests, query_requests

    scan = io.BytesIO()
    Image.new("RGB", (50, 70), (210, 220, 230)).save(scan, format="PNG")
    scan.seek(0)
    doc = documents.upload(Actor(user("staff_sales"), "127.0.0.1"), archive.id, scan, "变更依据.png",
                           documents.Details(doc_type="合同"))
    q = query_requests.submit(Actor(user("staff_marketing")), purpose="权限测试", scope="all",
                              period_days=2, archive_ref=archive.number)
    c = change_requests.propose(Actor(user("staff_sales")), archive, {"name": "权限测试改名公司"}, "更名",
                                doc.id)
    ca = change_requests.propose(Actor(user("staff_sales")), archive, {"region": "权限测试区"}, "迁址", doc.id)
    change_requests.approve(Actor(user("head_sales")), ca)
    return {"Q": q, "C": c, "CA": ca}


def _url(app, rule, subject, subjects, user):
    values = {}
    for arg in rule.arguments:
        if arg == "archive_id":
            values[arg] = subjects[subject].id
        elif arg == "number":
            values[arg] = subjects["A"].number
        elif arg == "ident":
            values[arg] = subjects["A"].id
        elif arg == "kind":
            values[arg] = "communications" if rule.endpoint == "archives.record_new" else "contacts"
        elif arg == "record_id":
            values[arg] = subjects["contact"].id
        elif arg == "doc_id":
            # a document of A when the subjects hold one; the API's token check needs no real one
            values[arg] = subjects["doc"].id if "doc" in subjects else 1
        elif arg == "ticket":
            from portal.documents.views_view import issue_ticket
            values[arg] = issue_ticket(user("staff_sales").id, subjects["doc"].id, 1)
        elif arg == "user_id":
            values[arg] = user("staff_sales").id
        elif arg == "dept_id":
            values[arg] = user("staff_sales").department_id
        elif arg == "type_id":
            values[arg] = subjects["A"].customer_type_id
        elif arg == "filename":
            values[arg] = "css/portal.css"
        elif arg == "request_id":
            values[arg] = subjects[subject].id  # Q, C, CA; the API's token check needs any id
        elif arg == "item_id":
            values[arg] = subjects["I"].id if "I" in subjects else 1
        elif arg == "loan_id":
            values[arg] = subjects["L"].id if "L" in subjects else 1
        elif arg == "handover_id":
            values[arg] = subjects["H"].id if "H" in subjects else 1
        elif arg in ("inspection_id", "sample_id", "finding_id", "rectification_id"):
            key = {"inspection_id": "N", "sample_id": "NS", "finding_id": "F", "rectification_id": "R"}[arg]
            values[arg] = subjects[key].id if key in subjects else 1
        elif arg == "app_id":
            values[arg] = subjects["XD"].id if "XD" in subjects else 1
        elif arg == "rule_id":
            values[arg] = 1  # the default retention rule (issue 7)
        elif arg in ("notification_id", "day_id"):
            values[arg] = 1  # the user's own notification / an admin-only calendar entry
        elif arg == "action" and rule.endpoint == "api.borrowing_action":
            values[arg] = "approve"
        else:
            raise AssertionError(f"test_route_permissions: give a value for <{arg}> of {rule.rule}")
    with app.test_request_context():
        from flask import url_for
        return url_for(rule.endpoint, **values)


def _routes(app):
    return [r for r in app.url_map.iter_rules()]


def test_every_route_has_a_policy(app):
    missing = [r.endpoint for r in _routes(app)
               if _policy(r.endpoint) is None and not r.endpoint.startswith(API_PREFIX)]
    assert not missing, f"routes without an entry in POLICY (add who must be refused): {missing}"


def test_anonymous_visitors_are_sent_to_log_in(app, client, subjects, user):
    for rule in _routes(app):
        policy = _policy(rule.endpoint)
        if rule.endpoint.startswith(API_PREFIX) or policy is None or policy[1] == PUBLIC:
            continue
        url = _url(app, rule, policy[0], subjects, user)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            assert response.status_code in (302, 401), (method, url, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], (method, url)


def test_api_refuses_requests_without_a_token(app, client, subjects, user):
    for rule in _routes(app):
        if not rule.endpoint.startswith(API_PREFIX) or rule.endpoint == "api.openapi":
            continue
        url = _url(app, rule, "A", subjects, user)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert client.open(url, method=method).status_code == 401, (method, url)


@pytest.mark.parametrize("username", USERS)
def test_refused_users_get_403_and_a_register_entry(app, login, subjects, user, username, register_entries):
    client = login(username)
    checked = 0
    for rule in _routes(app):
        policy = _policy(rule.endpoint)
        if policy is None or policy[1] == PUBLIC or username in policy[1]:
            continue
        url = _url(app, rule, policy[0], subjects, user)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            before = len(register_entries(action="access_denied", username=username))
            response = client.open(url, method=method)
            if (username, rule.endpoint) in REDIRECTED:
                assert response.status_code in (302, 303, 308)
                assert response.headers["Location"].endswith(REDIRECTED[(username, rule.endpoint)])
                continue
            assert response.status_code == 403, (username, method, url, response.status_code)
            after = len(register_entries(action="access_denied", username=username))
            assert after == before + 1, f"{username} {method} {url}: refusal not on the register"
            checked += 1
    assert checked or username == "staff_sales" or username == "head_sales"


def test_admin_cannot_see_archive_content_through_the_api(app, subjects, user):
    from portal.auth.services import create_token

    token = create_token(None, user("admin"))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/archives/{subjects['A'].id}", headers=headers).status_code == 403
    listing = client.get("/api/v1/archives", headers=headers)
    assert listing.status_code in (200, 403)
    if listing.status_code == 200:
        assert listing.get_json()["total"] == 0
    db.session.commit()
    assert db.session.scalar(sa.text("SELECT count(*) FROM register_entry WHERE action = 'access_denied'")) >= 1
