"""Reference data every installation starts with (departments, customer types)."""
from __future__ import annotations

import sqlalchemy as sa

from portal.admin.models import CustomerType
from portal.auth.models import Department
from portal.extensions import db

DEPARTMENTS = [
    ("市场部", "MKT"), ("销售部", "SAL"), ("策划部", "PLN"), ("执行部", "EXE"),
    ("客户服务部", "CS"), ("质量管理部", "QA"), ("管理层", "MGT"), ("信息技术部", "IT"),
]
# Customer types of policy 004 §15 / 002, with the code used in archive numbers.
CUSTOMER_TYPES = [
    ("跨境电商", "电商"), ("外贸生产企业", "外贸"), ("海外本土企业", "本土"),
    ("行业协会", "协会"), ("个人客户", "个人"),
]


def seed_reference_data() -> None:
    """Insert missing departments and customer types (idempotent; never overwrites edits)."""
    existing = set(db.session.scalars(sa.select(Department.code)))
    for name, code in DEPARTMENTS:
        if code not in existing and not db.session.scalar(sa.select(Department.id).filter_by(name=name)):
            db.session.add(Department(name=name, code=code))
    existing = set(db.session.scalars(sa.select(CustomerType.code)))
    for order, (name, code) in enumerate(CUSTOMER_TYPES):
        if code not in existing and not db.session.scalar(sa.select(CustomerType.id).filter_by(name=name)):
            db.session.add(CustomerType(name=name, code=code, sort_order=order))
    db.session.commit()


def department(code: str) -> Department:
    return db.session.scalar(sa.select(Department).filter_by(code=code))
