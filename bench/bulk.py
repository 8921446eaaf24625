"""Bulk-load thousands of realistic archives for the benchmark (SQLAlchemy core, not the services).

The rows look like what the filing workflow produces: both kinds, all customer types, stages,
departments, responsible staff and sensitivity levels; 1–3 contacts with phones, contracts,
communication entries and transactions; most archives filed with numbers from the number
sequences (which are advanced so that later filings continue after them), and a register entry
chain (create → submit → approve → file) that ``portal register verify`` accepts.

Run inside an app context: ``bulk_load(total=10_000)``.
"""
from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from portal import demo
from portal.admin.models import CustomerType, get_setting
from portal.archives.models import (
    Anniversary,
    Archive,
    ArchiveNumberSequence,
    Communication,
    Contact,
    Cooperation,
    Transaction,
)
from portal.archives.numbering import format_number
from portal.auth.models import Department, User
from portal.extensions import db
from portal.models_base import utcnow
from portal.register import actions
from portal.register.models import GENESIS_HASH, RegisterEntry, RegisterHead
from portal.register.services import entry_hash

SEED = 4242
CHUNK = 2000
# department code → (authors, responsible staff) among the demo users
DEPARTMENTS = {
    "SAL": (["staff_sales", "staff_sales", "head_sales"], ["staff_sales", "staff_sales", "head_sales"]),
    "MKT": (["staff_marketing", "head_marketing"], ["staff_marketing", "head_marketing"]),
    "CS": (["head_service"], ["head_service"]),
}
DEPT_WEIGHTS = (("SAL", 0.45), ("MKT", 0.35), ("CS", 0.20))
STATUS_WEIGHTS = (("filed", 0.85), ("draft", 0.05), ("submitted", 0.04), ("approved", 0.03),
                  ("rejected", 0.03))
TYPE_WEIGHTS = (("电商", 0.34), ("外贸", 0.22), ("本土", 0.18), ("协会", 0.04), ("个人", 0.22))
STAGE_WEIGHTS = (("potential", 0.3), ("active", 0.5), ("terminated", 0.2))


def _pick(rng: random.Random, weighted) -> str:
    x = rng.random()
    for value, weight in weighted:
        x -= weight
        if x < 0:
            return value
    return weighted[-1][0]


def _dt(rng: random.Random, start: datetime, end: datetime) -> datetime:
    return start + timedelta(seconds=rng.randint(0, max(int((end - start).total_seconds()), 1)))


def bulk_load(total: int = 10_000, seed: int = SEED, log=print) -> dict:
    """Add archives until there are ``total``; returns counts. Idempotent (adds 0 when reached)."""
    started = time.perf_counter()
    existing = db.session.scalar(sa.select(sa.func.count()).select_from(Archive))
    missing = total - existing
    if missing <= 0:
        return {"added": 0}
    rng = random.Random(seed + existing)
    users = {u.username: u for u in db.session.scalars(sa.select(User))}
    depts = {d.code: d for d in db.session.scalars(sa.select(Department))}
    types = {t.code: t.id for t in db.session.scalars(sa.select(CustomerType))}
    template, prefix = get_setting("number_template"), get_setting("number_prefix")
    sequences = {(s.prefix, s.year, s.type_code): s.last_value
                 for s in db.session.scalars(sa.select(ArchiveNumberSequence))}
    taken = set(db.session.scalars(sa.select(Archive.number).where(Archive.number.is_not(None))))
    next_id = {m: (db.session.scalar(sa.select(sa.func.max(m.id))) or 0) + 1
               for m in (Archive, Contact, Cooperation, Transaction, Communication, Anniversary)}
    now = utcnow().replace(microsecond=0)
    today = now.date()

    archives, contacts, coops, trans, comms, annivs, events = [], [], [], [], [], [], []
    contract_seq = 5000
    for _ in range(missing):
        aid = next_id[Archive]
        next_id[Archive] += 1
        type_code = _pick(rng, TYPE_WEIGHTS)
        stage = _pick(rng, STAGE_WEIGHTS)
        status = _pick(rng, STATUS_WEIGHTS)
        dept = _pick(rng, DEPT_WEIGHTS)
        authors, responsibles = DEPARTMENTS[dept]
        author, responsible = users[rng.choice(authors)], users[rng.choice(responsibles)]
        sensitivity = rng.choice((1, 2, 2, 2, 2, 3, 3, 3, 3, 3)) if status == "filed" else max(
            author.clearance, rng.choice((2, 3)))
        created = _dt(rng, now - timedelta(days=3 * 365), now - timedelta(days=3))
        city, city_py, street, area = rng.choice(demo.CITIES)
        region = rng.choice(demo.REGIONS)
        markets, words, suffixes, overseas_addr, phone_prefix, foreign = demo.OVERSEAS[region]
        row = dict(id=aid, kind="organisation", status=status, sensitivity=sensitivity, name_en="",
                   gender="", birth_date=None, id_number="", occupation="", education="",
                   address_overseas="", founded_on=None, nature="", registered_capital="",
                   business_scope="", legal_representative="")
        if type_code == "个人":
            name, male = demo._person_name(rng)
            born = date(rng.randint(1960, 2001), rng.randint(1, 12), rng.randint(1, 28))
            row.update(kind="individual", name=name, gender="male" if male else "female", birth_date=born,
                       id_number=demo._id_number(rng, area, born, male), occupation=rng.choice(demo.OCCUPATIONS),
                       education=rng.choice(demo.EDUCATION),
                       email=demo._pinyin_email(rng, name, ("163.com", "qq.com", "gmail.com")),
                       bank_account=demo._luhn("622202", 19, rng), phone=demo._mobile(rng),
                       address=f"{street}{rng.randint(1, 399)}号{rng.randint(2, 28)}{rng.randint(1, 20):02d}室")
            domain = "qq.com"
        elif type_code == "本土":
            word = rng.choice(words)
            name = f"{word} {rng.choice(['Home', 'Retail', 'Trading', 'Brands', 'Outdoor', 'Supply'])} " \
                   f"{rng.choice(suffixes)}"
            domain = word.lower().replace(" ", "") + demo.TLD[region]
            row.update(name=name, address_overseas=overseas_addr, nature="海外本土企业",
                       email=f"info@{domain}", phone=phone_prefix + f"{rng.randint(0, 9999):04d}",
                       address="", bank_account=str(rng.randint(10**11, 10**12 - 1)))
        else:
            brand, brand_py = rng.choice(demo.BRANDS)
            if type_code == "协会":
                line_cn, line_en = rng.choice([("进出口商会", "Import and Export Chamber of Commerce"),
                                               ("跨境电商协会", "Cross-border E-commerce Association")])
                name = f"{city}{line_cn}"
            else:
                line_cn, line_en, _ = rng.choice(demo.PRODUCT_LINES) if type_code == "外贸" else (
                    "跨境电商", "Cross-border E-commerce", "")
                name = f"{city}{brand}{line_cn}有限公司"
            domain = f"{brand_py.lower()}{rng.choice(['', '-ec', 'tech'])}.com"
            row.update(name=name, name_en=f"{city_py} {brand_py} {line_en} Co., Ltd.",
                       email=f"{rng.choice(['info', 'sales'])}@{domain}",
                       phone=demo._mobile(rng), bank_account=str(rng.randint(10**14, 10**15 - 1)),
                       address=f"{street}{rng.randint(1, 399)}号", nature=rng.choice(demo.NATURES),
                       registered_capital=f"{rng.choice([100, 500, 1000])}万元人民币",
                       legal_representative=demo._person_name(rng)[0])
        if row["kind"] == "organisation":
            row.update(founded_on=date(rng.randint(2000, 2022), rng.randint(1, 12), rng.randint(1, 28)),
                       business_scope="跨境电子商务；货物进出口；技术进出口。")
        signed = terminated = None
        if stage != "potential":
            signed = created.date() - timedelta(days=rng.randint(0, 60))
        if stage == "terminated":
            terminated = min(signed + timedelta(days=rng.randint(120, 700)), today - timedelta(days=1))
        needs, prefs = rng.choice(demo.NEEDS)
        row.update(
            customer_type_id=types[type_code], stage=stage, region=region,
            industry=rng.choice(demo.INDUSTRIES), importance=rng.choice("AABBBCCCD"),
            target_markets=markets, positioning=rng.choice(demo.POSITIONINGS),
            target_customers=rng.choice(demo.TARGET_CUSTOMERS), competition=rng.choice(demo.COMPETITION),
            needs=needs, preferences=prefs, credit_rating=rng.choice(demo.CREDIT),
            payment_record=rng.choice(demo.PAYMENT_RECORDS), special_needs="", notes="",
            department_id=depts[dept].id, responsible_id=responsible.id, created_by_id=author.id,
            paper_room=rng.choice(demo.PAPER_ROOMS), paper_cabinet=f"{rng.randint(1, 40):02d}号柜",
            paper_shelf=f"第{rng.randint(1, 5)}层", paper_box=f"{rng.randint(1, 999):03d}号盒",
            created_at=created, submitted_at=None, reviewed_at=None, reviewed_by_id=None, review_note="",
            filed_at=None, filed_by_id=None, contract_signed_on=signed, terminated_on=terminated,
            number=None, version=1)
        head = users[{"SAL": "head_sales", "MKT": "head_marketing", "CS": "head_service"}[dept]]
        ev = [(created, author, actions.ARCHIVE_CREATE, name)]
        t = created
        if status != "draft":
            t = t + timedelta(hours=rng.randint(1, 72))
            row["submitted_at"] = t
            ev.append((t, author, actions.ARCHIVE_SUBMIT, ""))
        if status in ("approved", "filed", "rejected"):
            t = t + timedelta(hours=rng.randint(1, 48))
            row.update(reviewed_at=t, reviewed_by_id=head.id)
            if status == "rejected":
                row["review_note"] = rng.choice(demo.REJECT_REASONS)
                ev.append((t, head, actions.ARCHIVE_REJECT, row["review_note"]))
            else:
                ev.append((t, head, actions.ARCHIVE_APPROVE, ""))
        if status == "filed":
            t = t + timedelta(hours=rng.randint(1, 48))
            key = (prefix, t.year, type_code)
            while True:
                sequences[key] = sequences.get(key, 0) + 1
                number = format_number(template, prefix=prefix, year=t.year, type_code=type_code,
                                       seq=sequences[key])
                if number not in taken:
                    break
            taken.add(number)
            row.update(number=number, filed_at=t, filed_by_id=users["archivist"].id)
            ev.append((t, users["archivist"], actions.ARCHIVE_FILE, number))
        row["updated_at"] = t
        archives.append(row)
        for when, who, action, detail in ev:
            label = row["number"] if action == actions.ARCHIVE_FILE else f"#{aid}"
            events.append((when, who, action, aid, label, detail))

        # sub-records
        for n in range(rng.randint(1, 3)):
            if type_code == "本土":
                cname, cphone = foreign[n % len(foreign)], phone_prefix + f"{rng.randint(0, 9999):04d}"
            else:
                cname, cphone = demo._person_name(rng)[0], demo._mobile(rng)
            contacts.append(dict(id=next_id[Contact], archive_id=aid, name=cname,
                                 position=rng.choice(demo.POSITIONS_CN), phone=cphone,
                                 email=f"c{next_id[Contact]}@{domain}",
                                 preferred_channel=rng.choice(demo.CHANNELS), created_at=created,
                                 updated_at=created))
            next_id[Contact] += 1
        if signed:
            contract_seq += 1
            coops.append(dict(id=next_id[Cooperation], archive_id=aid, project=rng.choice(demo.SERVICES),
                              contract_number=f"HT-{signed.year}-{contract_seq:05d}",
                              key_terms="服务费按季度结算（比例已脱敏）。", period_start=signed,
                              period_end=signed + timedelta(days=364),
                              fee_range=rng.choice(["10万–20万元", "20万–50万元"]),
                              progress="已终止" if terminated else "执行中", renewal="",
                              created_at=created, updated_at=created))
            next_id[Cooperation] += 1
            for _n in range(rng.randint(0, 2)):
                product, spec, (low, high) = rng.choice(demo.PRODUCTS)
                traded = signed + timedelta(days=rng.randint(0, 300))
                trans.append(dict(id=next_id[Transaction], archive_id=aid, product=product, spec=spec,
                                  quantity=Decimal(rng.choice((1, 2, 3))),
                                  price=Decimal(rng.randrange(low, high, 500)), traded_on=traded,
                                  order_number=f"SO{traded:%Y%m%d}-{next_id[Transaction]:05d}",
                                  created_at=created, updated_at=created))
                next_id[Transaction] += 1
        for _n in range(rng.randint(1, 2)):
            topic, agreed, disagreed = rng.choice(demo.COMM_TOPICS)
            comms.append(dict(id=next_id[Communication], archive_id=aid,
                              occurred_on=created.date() + timedelta(days=rng.randint(0, 30)),
                              channel=rng.choice(demo.CHANNELS), topic=topic, agreements=agreed,
                              disagreements=disagreed, created_at=created, updated_at=created))
            next_id[Communication] += 1
        if row["kind"] == "individual":
            annivs.append(dict(id=next_id[Anniversary], archive_id=aid, occasion="生日",
                               falls_on=row["birth_date"], note="", created_at=created, updated_at=created))
            next_id[Anniversary] += 1

    for model, rows in ((Archive, archives), (Contact, contacts), (Cooperation, coops),
                        (Transaction, trans), (Communication, comms), (Anniversary, annivs)):
        for i in range(0, len(rows), CHUNK):
            db.session.execute(sa.insert(model.__table__), rows[i:i + CHUNK])
    _advance_sequences(sequences)
    entries = _append_register(sorted(events, key=lambda e: e[0]))
    if db.engine.dialect.name == "postgresql":
        for model in (Archive, Contact, Cooperation, Transaction, Communication, Anniversary):
            table = model.__tablename__
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        # What autovacuum would do soon after such a load. SQLite is left without statistics, as
        # a portal database is (see migration 0002 on ANALYZE and the active search).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    result = {"added": len(archives), "contacts": len(contacts), "cooperation": len(coops),
              "transactions": len(trans), "communications": len(comms), "anniversaries": len(annivs),
              "register_entries": entries, "seconds": round(time.perf_counter() - started, 1)}
    log(f"bulk load: {result}")
    return result


def _advance_sequences(sequences: dict) -> None:
    for (prefix, year, code), value in sequences.items():
        row = db.session.get(ArchiveNumberSequence, (prefix, year, code))
        if row is None:
            db.session.add(ArchiveNumberSequence(prefix=prefix, year=year, type_code=code, last_value=value))
        elif row.last_value < value:
            row.last_value = value
    db.session.flush()


def _append_register(events: list) -> int:
    """Chain the workflow entries onto the register exactly as ``record`` would have."""
    head = db.session.get(RegisterHead, 1)
    if head is None:
        head = RegisterHead(id=1, last_seq=0, last_hash=GENESIS_HASH)
        db.session.add(head)
        db.session.flush()
    seq, prev = head.last_seq, head.last_hash
    rows = []
    for when, user, action, archive_id, label, detail in events:
        seq += 1
        entry = SimpleNamespace(
            seq=seq, at=when, user_id=user.id, username=user.username, role=user.role,
            department=user.department_name, action=action, archive_id=archive_id,
            archive_number=label, detail=detail[:2000], purpose="", client_addr="bulk", result="ok",
            document_id=None)
        entry.hash = entry_hash(entry, prev)
        entry.prev_hash = prev
        rows.append(dict(vars(entry)))
        prev = entry.hash
        if len(rows) >= CHUNK:
            db.session.execute(sa.insert(RegisterEntry.__table__), rows)
            rows = []
    if rows:
        db.session.execute(sa.insert(RegisterEntry.__table__), rows)
    head.last_seq, head.last_hash = seq, prev
    db.session.flush()
    return len(events)


def main() -> None:
    """``python bench/bulk.py --total 10000`` with PORTAL_INSTANCE_PATH / PORTAL_DATABASE_URL set."""
    import argparse
    import json

    from portal import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--total", type=int, default=10_000, help="archives wanted in total")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        result = bulk_load(args.total, args.seed, log=lambda *_: None)
        db.session.remove()
        db.engine.dispose()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
