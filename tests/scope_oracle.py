"""What each demo role may see, written in plain SQL that does not use the portal's scope code.

The scope tests compare the portal's answers with these queries; keeping them in one place
means a change to the demo organisation is fixed once for every test file.
"""

from __future__ import annotations

ADMIN, HQ, REVIEWER = "admin@example.com", "hq@example.com", "reviewer@example.com"
STORE1, STORE2 = "store1@example.com", "store2@example.com"
LEADER1, IBO1 = "leader1@example.com", "ibo1@example.com"

# ibo1 is distributor G01-0002: they see their own customers and those of their downline.
DOWNLINE_CTE = """
    WITH RECURSIVE downline(id) AS (
        SELECT id FROM partner WHERE code = 'G01-0002'
        UNION ALL
        SELECT p.id FROM partner p JOIN downline d ON p.sponsor_id = d.id
    )
"""

CUSTOMER_IDS: dict[str, str | None] = {
    ADMIN: "SELECT id FROM customer",
    HQ: "SELECT id FROM customer",
    REVIEWER: None,
    STORE1: "SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B001'",
    STORE2: "SELECT c.id FROM customer c JOIN org_unit o ON o.id = c.branch_id WHERE o.code = 'B002'",
    LEADER1: """SELECT c.id FROM customer c JOIN partner p ON p.id = c.partner_id
                JOIN partner_group g ON g.id = p.group_id WHERE g.code = 'G01'""",
    IBO1: DOWNLINE_CTE + " SELECT c.id FROM customer c WHERE c.partner_id IN (SELECT id FROM downline)",
}

SALE_LINE_IDS: dict[str, str] = {
    HQ: "SELECT s.id FROM sale_line s",
    STORE1: "SELECT s.id FROM sale_line s JOIN org_unit o ON o.id = s.branch_id WHERE o.code = 'B001'",
    IBO1: DOWNLINE_CTE + " SELECT s.id FROM sale_line s WHERE s.partner_id IN (SELECT id FROM downline)",
    LEADER1: """SELECT s.id FROM sale_line s JOIN partner p ON p.id = s.partner_id
                JOIN partner_group g ON g.id = p.group_id WHERE g.code = 'G01'""",
}
