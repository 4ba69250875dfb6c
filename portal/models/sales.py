"""Product catalogue and the sales warehouse: daily reports and their sale lines."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .base import utcnow

# committed: its lines are in the warehouse; rejected: a strict import that failed validation
# (kept with its row messages, no lines); replaced: swapped for a newer file of the same day.
REPORT_STATUSES = ("committed", "rejected", "replaced")
IMPORT_MODES = ("strict", "lenient")


class Category(db.Model):
    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name_ko: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))


class Product(db.Model):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    unit_price: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    category: Mapped[Category] = relationship()


class SalesReport(db.Model):
    """One branch's daily sales report (판매일보) as imported."""

    __tablename__ = "sales_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    report_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(12), default="committed")
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    rows: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    mode: Mapped[str] = mapped_column(String(8), default="strict", server_default="strict")
    source: Mapped[str | None] = mapped_column(String(8))  # web / api / cli / demo
    encoding: Mapped[str | None] = mapped_column(String(12))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    customers_created: Mapped[int] = mapped_column(default=0, server_default="0")
    customers_matched: Mapped[int] = mapped_column(default=0, server_default="0")
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("sales_report.id"))
    replaced_at: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(String(500))

    branch = relationship("OrgUnit")
    uploaded_by = relationship("User")
    rejections: Mapped[list[SalesReportRejection]] = relationship(
        back_populates="report", order_by="SalesReportRejection.row_no, SalesReportRejection.id",
        cascade="all, delete-orphan", passive_deletes=True)


Index("ix_sales_report_branch_date", SalesReport.branch_id, SalesReport.report_date)
# One committed report per branch and day: a second concurrent import of the same day fails here.
Index("uq_sales_report_committed_day", SalesReport.branch_id, SalesReport.report_date, unique=True,
      sqlite_where=text("status = 'committed'"), postgresql_where=text("status = 'committed'"))


class SalesReportRejection(db.Model):
    """One refused cell of an import: the row-numbered message the uploader sees and downloads."""

    __tablename__ = "sales_report_rejection"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("sales_report.id", ondelete="CASCADE"), index=True)
    row_no: Mapped[int]
    column: Mapped[str] = mapped_column(String(40))
    value: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(String(500))

    report: Mapped[SalesReport] = relationship(back_populates="rejections")


class SaleLine(db.Model):
    __tablename__ = "sale_line"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("sales_report.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    # The customer's distributor when the line was recorded: a group's sales stay in its scope.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    receipt_no: Mapped[str | None] = mapped_column(String(40))
    sold_at: Mapped[date]
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price: Mapped[int] = mapped_column(default=0)
    amount: Mapped[int] = mapped_column(default=0)

    product = relationship("Product")
    category = relationship("Category")
    branch = relationship("OrgUnit")


Index("ix_sale_line_customer_sold", SaleLine.customer_id, SaleLine.sold_at)
Index("ix_sale_line_branch_sold", SaleLine.branch_id, SaleLine.sold_at)
Index("ix_sale_line_partner_sold", SaleLine.partner_id, SaleLine.sold_at)
# HQ's unfiltered "newest first" page and date-range totals, and receipt look-ups.
Index("ix_sale_line_sold", SaleLine.sold_at, SaleLine.id)
Index("ix_sale_line_receipt", SaleLine.receipt_no)
