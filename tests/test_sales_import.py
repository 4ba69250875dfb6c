"""Daily sales report import (issue 3): encodings, typing, strict/lenient, idempotency, replace,
atomicity under kill -9, customer matching, scope — through the service, the web, the API and
the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from portal.customers.normalize import normalize_phone
from tests.conftest import api_token_for, bearer, csrf_token, scalar, sql

ROOT = Path(__file__).resolve().parent.parent
HEADER_KO = "판매일자,지점코드,영수증번호,고객번호,고객명,전화번호,이메일,주소,우편번호,생년월일,상품코드,상품명,카테고리,수량,단가,금액"
HEADER_EN = ("report_date,branch_code,receipt_no,customer_code,customer_name,phone,email,address,postal_code,"
             "birth_date,product_sku,product_name,category,quantity,unit_price,amount")
# Before the demo's three years of sales (which end yesterday), so no branch has filed these days yet.
DAY, DAY2, DAY3 = "2023-11-05", "2023-11-06", "2023-11-07"


def row(code="", name="", phone="", email="", sku="HEA-001", qty=1, price=32000, amount=None, branch="B001",
        day=DAY, receipt="R1", address="서울시 강남구 테헤란로 1", postal="06236", birth="", pname="", cat="health"):
    amount = qty * price if amount is None else amount
    return ",".join(str(v) for v in (day, branch, receipt, code, name, phone, email, address, postal, birth, sku,
                                     pname, cat, qty, price, amount))


def csv_bytes(rows: list[str], header: str = HEADER_KO, encoding: str = "utf-8") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode(encoding)


def run_import(data: bytes, name: str = "report.csv", user_email: str | None = None, **kw):
    from flask_babel import force_locale

    from portal.auth.service import find_user
    from portal.sales.importer import import_report

    user = find_user(user_email) if user_email else None
    with force_locale("en"):  # messages are asserted in English; the default UI language is Korean
        return import_report(data, name, user, **kw)


def execute(query: str, **params) -> None:
    from sqlalchemy import text

    from portal.extensions import db

    db.session.execute(text(query), params)
    db.session.commit()


def lines_of(report_id: int) -> int:
    return scalar("SELECT COUNT(*) FROM sale_line WHERE report_id = :r", r=report_id)


BASIC = [
    row(code="0012345", name="NA", phone="010-7000-0001", receipt="00042"),
    row(code="C0000001", sku="BEA-002", price=56000),
    row(name="박민지", phone="+82 10-7000-0002", email="MINJI@Example.NET", qty=2),
]


# -- encodings and typing -------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp949"])
def test_encodings_give_identical_results(app, encoding):
    with app.app_context():
        result = run_import(csv_bytes(BASIC, encoding=encoding), mode="strict")
        assert result.status == "committed", result.message
        assert result.encoding == encoding
        assert (result.rows, result.accepted, result.customers_created, result.customers_matched) == (3, 3, 2, 1)
        got = sql("SELECT c.code, c.name, c.phone, c.email, s.receipt_no, s.quantity, s.amount FROM sale_line s "
                  "JOIN customer c ON c.id = s.customer_id WHERE s.report_id = :r ORDER BY s.receipt_no, s.amount",
                  r=result.report_id)
        new_code = scalar("SELECT code FROM customer WHERE phone = '01070000002'")
        assert [tuple(r) for r in got] == [
            ("0012345", "NA", "01070000001", None, "00042", 1, 32000),  # leading zeros and "NA" kept
            ("C0000001", got[1][1], got[1][2], got[1][3], "R1", 1, 56000),
            (new_code, "박민지", "01070000002", "minji@example.net", "R1", 2, 64000),
        ]


def test_undecodable_and_wrong_files_are_refused_with_a_message(app):
    with app.app_context():
        assert "neither UTF-8 nor CP949" in run_import(HEADER_EN.encode() + b"\n\xff\xfe\xff,x\n").message
        assert run_import(b"", "r.csv").status == "rejected"
        assert "xlsx" in run_import(b"PK\x03\x04junk", "r.csv").message
        assert ".csv" in run_import(b"a,b\n1,2\n", "r.exe").message
        missing = run_import(f"report_date,branch_code\n{DAY},B001\n".encode())
        assert missing.status == "rejected" and "product_sku" in missing.message
        assert scalar("SELECT COUNT(*) FROM sales_report WHERE report_date = :d", d=DAY) == 0


def test_xlsx_with_english_headers(app):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER_EN.split(","))
    ws.append([DAY, "B001", "00042", "0012345", "NA", "010-7000-0001", "", "서울", "06236", None, "HEA-001", "",
               "health", 2, 32000, 64000])
    buf = io.BytesIO()
    wb.save(buf)
    with app.app_context():
        result = run_import(buf.getvalue(), "day.xlsx")
        assert result.status == "committed", result.errors
        assert scalar("SELECT name FROM customer WHERE code = '0012345'") == "NA"
        assert scalar("SELECT receipt_no FROM sale_line WHERE report_id = :r", r=result.report_id) == "00042"


# -- validation: strict and lenient -------------------------------------------------------------------


BAD = [
    row(code="C0000001"),
    row(code="C0000002", day="2026-13-01"),                         # bad date
    row(code="C0000003", qty=2, price=1000, amount=3000),           # qty × price ≠ amount
    row(code="C0000004", amount="-500", price=-500),                # negative
    row(code="C0000005", price="abc", amount=1000),                  # not a number
    row(code="C0000006", cat="gadgets"),                            # unknown category
    row(code="C0000007", branch="B002"),                            # another branch in the file
]


def test_strict_commits_nothing_and_names_every_row(app):
    with app.app_context():
        before = scalar("SELECT COUNT(*) FROM sale_line")
        result = run_import(csv_bytes(BAD), mode="strict")
        assert result.status == "rejected" and result.accepted == 0 and result.rejected == 6
        assert scalar("SELECT COUNT(*) FROM sale_line") == before
        by_row = {(e["row"], e["field"]) for e in result.errors}
        assert {(3, "report_date"), (4, "amount"), (5, "amount"), (5, "unit_price"), (6, "unit_price"),
                (7, "category"), (8, "branch_code")} <= by_row
        assert any("3,000" in e["message"] and "2,000" in e["message"] for e in result.errors)
        # The failed attempt is kept with its messages for the status board, without lines.
        status, rejected = sql("SELECT status, rejected FROM sales_report WHERE id = :r", r=result.report_id)[0]
        assert (status, rejected) == ("rejected", 6) and lines_of(result.report_id) == 0


def test_lenient_commits_good_rows_and_keeps_a_rejection_report(app):
    from portal.sales.service import rejection_rows

    with app.app_context():
        result = run_import(csv_bytes(BAD), mode="lenient")
        assert result.status == "committed" and (result.accepted, result.rejected) == (1, 6)
        assert lines_of(result.report_id) == 1
        text = "".join(rejection_rows(result.report_id))
        assert text.splitlines()[0] == "row,column,value,reason"
        assert "gadgets" in text and "2026-13-01" in text


def test_rejection_report_neutralizes_formulas(app):
    from portal.sales.service import rejection_rows

    with app.app_context():
        result = run_import(csv_bytes([row(code="C0000001"), row(code="C0000002", cat="=HYPERLINK(\"x\")")]),
                            mode="lenient")
        text = "".join(rejection_rows(result.report_id))
        assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text


# -- idempotency and replace --------------------------------------------------------------------------


def test_same_file_again_commits_nothing_and_names_the_report(app):
    with app.app_context():
        first = run_import(csv_bytes(BASIC))
        count = scalar("SELECT COUNT(*) FROM sale_line")
        again = run_import(csv_bytes(BASIC))
        assert again.status == "duplicate" and again.duplicate_of == first.report_id
        assert scalar("SELECT COUNT(*) FROM sale_line") == count


def test_another_file_for_the_same_day_needs_replace(app):
    with app.app_context():
        first = run_import(csv_bytes(BASIC))
        spend_before = scalar("SELECT total_spend FROM customer WHERE code = 'C0000001'")
        other = csv_bytes([row(code="C0000001", qty=3, price=10000)])
        refused = run_import(other)
        assert refused.status == "refused" and refused.existing_report_id == first.report_id
        replaced = run_import(other, replace=True)
        assert replaced.status == "committed" and replaced.replaced_report_id == first.report_id
        assert sql("SELECT status FROM sales_report WHERE id = :r", r=first.report_id)[0][0] == "replaced"
        assert lines_of(first.report_id) == 0 and lines_of(replaced.report_id) == 1
        assert scalar("SELECT total_spend FROM customer WHERE code = 'C0000001'") == spend_before - 56000 + 30000
        assert scalar("SELECT COUNT(*) FROM audit_event WHERE action = 'sales_report.replaced'") == 1
        assert scalar("SELECT COUNT(*) FROM sales_report WHERE branch_id = (SELECT id FROM org_unit WHERE "
                      "code = 'B001') AND report_date = :d AND status = 'committed'", d=DAY) == 1


# -- customer matching ----------------------------------------------------------------------------------


def test_matching_rules(app):
    with app.app_context():
        c1 = sql("SELECT id, phone, email FROM customer WHERE phone IS NOT NULL AND email IS NOT NULL "
                 "ORDER BY id LIMIT 1")[0]
        c2 = sql("SELECT id, phone, email FROM customer WHERE email IS NOT NULL AND id <> :i ORDER BY id DESC "
                 "LIMIT 1", i=c1.id)[0]
        phone_fmt = f"{c1.phone[:3]}-{c1.phone[3:-4]}-{c1.phone[-4:]}"
        rows = [
            row(phone=phone_fmt, receipt="by-phone"),                           # → c1 by phone
            row(email=c2.email.upper(), receipt="by-email"),                    # → c2 by e-mail
            row(code="NEW-1", name="새고객", phone=c1.phone, receipt="code"),   # never merged into c1
        ]
        result = run_import(csv_bytes(rows))
        assert result.status == "committed", result.errors
        got = dict(sql("SELECT receipt_no, customer_id FROM sale_line WHERE report_id = :r", r=result.report_id))
        new_id = scalar("SELECT id FROM customer WHERE code = 'NEW-1'")
        assert got == {"by-phone": c1.id, "by-email": c2.id, "code": new_id}
        assert new_id not in (c1.id, c2.id)


def test_ambiguous_phone_is_refused_not_guessed(app):
    with app.app_context():
        ids = [r[0] for r in sql("SELECT id FROM customer ORDER BY id LIMIT 2")]
        execute("UPDATE customer SET phone = '01099998888' WHERE id IN (:a, :b)", a=ids[0], b=ids[1])
        result = run_import(csv_bytes([row(phone="010-9999-8888")]))
        assert result.status == "rejected"
        assert "several customers" in result.errors[0]["message"]


def test_merged_code_lands_on_the_survivor(app):
    with app.app_context():
        survivor = scalar("SELECT id FROM customer ORDER BY id LIMIT 1")
        execute("INSERT INTO customer_alias (code, customer_id, merged_at) VALUES ('OLD-9', :c, CURRENT_TIMESTAMP)",
            c=survivor)
        result = run_import(csv_bytes([row(code="OLD-9")]))
        assert result.status == "committed" and result.customers_created == 0
        assert scalar("SELECT customer_id FROM sale_line WHERE report_id = :r", r=result.report_id) == survivor


def test_bad_contact_data_flags_the_new_customer_instead_of_refusing_the_sale(app):
    with app.app_context():
        result = run_import(csv_bytes([row(code="Q-1", name="품질", phone="010-12", email="not-an-email",
                                           address="", postal="123")]))
        assert result.status == "committed"
        cid = scalar("SELECT id FROM customer WHERE code = 'Q-1'")
        issues = dict(sql("SELECT field, reason FROM quality_issue WHERE customer_id = :c AND resolved_at IS NULL",
                          c=cid))
        assert set(issues) == {"phone", "email", "address", "postal_code"}
        assert "010-12" in issues["phone"] and "not-an-email" in issues["email"]
        # A later report with good data fills the empty fields and resolves those issues.
        fix = run_import(csv_bytes([row(code="Q-1", phone="010-1234-5678", day=DAY2)]))
        assert fix.status == "committed"
        open_now = {f for f, in sql("SELECT field FROM quality_issue WHERE customer_id = :c AND resolved_at IS NULL",
                                    c=cid)}
        assert "phone" not in open_now and "email" in open_now
        assert scalar("SELECT phone FROM customer WHERE id = :c", c=cid) == "01012345678"


@pytest.mark.parametrize(("raw", "expected"), [
    ("010-1234-5678", "01012345678"), ("01012345678", "01012345678"), ("+82 10-1234-5678", "01012345678"),
    ("+82 (0)10 1234 5678", "01012345678"), ("010.1234.5678", "01012345678"), ("02-123-4567", "021234567"),
    ("031-123-4567", "0311234567"), ("070-1234-5678", "07012345678"), ("011-123-4567", "0111234567"),
    ("010-12", None), ("1234-5678", None), ("+1 650 555 1234", None), ("010-1234-567a", None), ("", None),
])
def test_phone_normalization(raw, expected):
    assert normalize_phone(raw or None) == expected


# -- scope, web, API, CLI ----------------------------------------------------------------------------


def test_store_cannot_import_for_another_branch_nor_see_its_reports(app, client):
    with app.app_context():
        b002 = run_import(csv_bytes([row(code="C0000001", branch="B002")]))
        assert b002.status == "committed"
        refused = run_import(csv_bytes([row(code="C0000001", branch="B002", day=DAY2)]),
                             user_email="store1@example.com")
        assert refused.status == "rejected" and "B002" in refused.message
    token = api_token_for("store1@example.com")
    resp = client.post("/api/v1/sales-reports", headers=bearer(token), content_type="multipart/form-data",
                       data={"file": (io.BytesIO(csv_bytes([row(code="C0000001", branch="B002", day=DAY3)])),
                                      "b002.csv")})
    assert resp.status_code == 422 and "B002" in resp.get_json()["message"]
    assert client.get(f"/api/v1/sales-reports/{b002.report_id}", headers=bearer(token)).status_code == 404
    listed = client.get("/api/v1/sales-reports?per_page=200", headers=bearer(token)).get_json()
    assert {r["branch_code"] for r in listed["items"]} == {"B001"}


def test_api_upload_statuses(app, client):
    token = api_token_for("hq@example.com")

    def post(data: bytes, **form):
        return client.post("/api/v1/sales-reports", headers=bearer(token), content_type="multipart/form-data",
                           data={"file": (io.BytesIO(data), "r.csv"), **form})

    created = post(csv_bytes(BASIC))
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    for key in ("report_id", "status", "rows", "accepted", "rejected", "customers_created", "customers_matched",
                "duplicate_of"):
        assert key in body
    assert post(csv_bytes(BASIC)).get_json()["duplicate_of"] == body["report_id"]
    other = csv_bytes([row(code="C0000001")])
    assert post(other).status_code == 409
    assert post(other, replace="true").status_code == 201
    assert post(csv_bytes(BAD)).status_code == 422
    assert post(csv_bytes(BAD, header=HEADER_EN).replace(b"B001", b"B003"), mode="lenient").status_code == 201
    assert client.post("/api/v1/sales-reports", headers=bearer(token)).status_code == 400
    assert client.post("/api/v1/sales-reports", headers=bearer(api_token_for("ibo1@example.com")),
                       content_type="multipart/form-data",
                       data={"file": (io.BytesIO(csv_bytes(BASIC)), "r.csv")}).status_code == 403


def test_web_upload_shows_row_messages_then_accepts_the_fix(app, client):
    from tests.conftest import login

    login(client, "store1@example.com")

    def upload(data: bytes):
        token = csrf_token(client, "/sales/upload")
        return client.post("/sales/upload", content_type="multipart/form-data",
                           data={"csrf_token": token, "mode": "strict", "file": (io.BytesIO(data), "day.csv")})

    bad = upload(csv_bytes([row(code="C0000001"), row(code="C0000002", qty=2, price=1000, amount=3000)]))
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'data-testid="import-error"' in html and "3,000" in html
    good = upload(csv_bytes([row(code="C0000001"), row(code="C0000002", qty=2, price=1000, amount=2000)]))
    assert good.status_code == 200 and 'data-status="committed"' in good.get_data(as_text=True)
    board = client.get("/sales/board?end=" + DAY).get_data(as_text=True)
    assert f'data-branch="B001" data-day="{DAY}" data-cell="filed"' in board
    assert 'data-branch="B002"' not in board  # a store's board shows its own branch only


def test_cli_json(app, tmp_path):
    path = tmp_path / "day.csv"
    path.write_bytes(csv_bytes(BASIC, encoding="cp949"))
    runner = app.test_cli_runner()
    out = runner.invoke(args=["portal", "sales", "import", str(path), "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["status"] == "committed" and body["rows"] == 3 and body["encoding"] == "cp949"
    again = json.loads(runner.invoke(args=["portal", "sales", "import", str(path), "--json"]).stdout)
    assert again["status"] == "duplicate" and again["duplicate_of"] == body["report_id"]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(BAD))
    failed = runner.invoke(args=["portal", "sales", "import", str(bad), "--mode", "strict", "--json"])
    assert failed.exit_code == 1 and json.loads(failed.stdout)["status"] == "rejected"


def test_hook_fires_after_commit(app):
    from portal.plugins import registry

    seen = []

    class Spy:
        from portal.hookspecs import hookimpl

        @hookimpl
        def portal_sales_imported(self, report):
            seen.append((report.id, report.status))

    pm = registry(app).pm
    spy = Spy()
    pm.register(spy, name="spy_sales")
    try:
        with app.app_context():
            result = run_import(csv_bytes(BASIC))
            # Fired after commit: the report the hook saw is committed in the database.
            assert sql("SELECT status FROM sales_report WHERE id = :r", r=result.report_id)[0][0] == "committed"
    finally:
        pm.unregister(spy)
    assert result.status == "committed"
    assert seen == [(result.report_id, "committed")]


def test_sqlite_bulk_mode_is_scoped_to_the_import(app):
    """SQLite: the import skips per-row foreign-key lookups, yet writes only valid references, and
    the plugins' hook (and everything after) runs with enforcement back on."""
    from sqlalchemy import text

    from portal.extensions import db
    from portal.plugins import registry

    seen = []

    class Spy:
        from portal.hookspecs import hookimpl

        @hookimpl
        def portal_sales_imported(self, report):
            if db.engine.dialect.name == "sqlite":
                seen.append(db.session.execute(text("PRAGMA foreign_keys")).scalar())

    pm = registry(app).pm
    spy = Spy()
    pm.register(spy, name="spy_fk")
    try:
        with app.app_context():
            result = run_import(csv_bytes(BASIC))
            assert result.status == "committed"
            if db.engine.dialect.name != "sqlite":
                return
            assert seen == [1]
            assert db.session.execute(text("PRAGMA foreign_key_check")).all() == []
            db.session.commit()
            assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        pm.unregister(spy)


# -- atomicity under kill -9 ----------------------------------------------------------------------------


def test_killed_import_leaves_nothing_and_the_next_import_works(app, tmp_path):
    n = 150_000
    rows = [row(code=f"K{i:07d}", name="대량", phone=f"010{i:08d}", receipt=f"K{i}") for i in range(n)]
    path = tmp_path / "big.csv"
    path.write_bytes(csv_bytes(rows))
    with app.app_context():
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        customers = scalar("SELECT COUNT(*) FROM customer")
        from portal.extensions import db

        db.session.remove()
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"),
           "PORTAL_SECRET_KEY": "x" * 40}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "portal", "sales", "import", str(path)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    seen = ""
    while time.time() < deadline:
        line = proc.stderr.readline()
        seen += line
        if "Creating new customers" in line or "신규 고객" in line or not line:
            break
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, seen
    with app.app_context():
        assert scalar("SELECT COUNT(*) FROM sales_report WHERE report_date = :d", d=DAY) == 0
        assert scalar("SELECT COUNT(*) FROM customer") == customers
        assert scalar("SELECT COUNT(*) FROM customer WHERE code LIKE 'K%'") == 0
        result = run_import(csv_bytes(BASIC))
        assert result.status == "committed"
