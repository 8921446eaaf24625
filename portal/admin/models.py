"""Administrator-managed reference data: customer types and settings."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class CustomerType(db.Model):
    """Customer type (跨境电商, 外贸生产企业 …, policy 004 §15); ``code`` goes into archive numbers."""

    __tablename__ = "customer_type"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.name


class Setting(db.Model):
    """A named setting the administrator can change at run time (e.g. the archive-number template)."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)


SETTING_DEFAULTS = {
    # 档案编号规则, policy 004 §11: 海外-年份-客户类型代码-序号, e.g. 海外-2026-电商-001
    "number_template": "{prefix}-{year}-{type_code}-{seq:03}",
    "number_prefix": "海外",
    # 季度抽查 sample size (policy 004 §14: 随机抽取一定比例): a number of archives or a percentage ("10%")
    "inspection_sample_size": "10",
    # A destroyed archive's tombstone keeps the customer's name ("1") or only the number ("0");
    # the policy's 销毁清册 lists names (004 §17). Destruction settings page: /destruction/settings.
    "destruction_keep_name": "1",
    # Housekeeping of staging data (portal.housekeeping, PIPL 第19条: kept no longer than needed):
    # the page texts of a finished intake item are cleared this many days after it finished, and
    # finished background jobs are deleted this many days after they ended. Page /admin/housekeeping.
    "housekeeping_text_days": "30",
    "housekeeping_job_days": "90",
}


def get_setting(key: str) -> str:
    """The stored value of a setting, or its default."""
    row = db.session.get(Setting, key)
    return row.value if row is not None else SETTING_DEFAULTS[key]
