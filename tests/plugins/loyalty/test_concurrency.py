"""No double spend and one entry per idempotency key, with the real app under gunicorn (4 worker
processes) on this test's own database — SQLite or PostgreSQL, whichever the suite runs on.

Sixteen threads wait at a barrier and fire at once: sixteen redemptions of 800 against a balance of
1,000 → exactly one 201, fifteen 409, balance 200; then sixteen earns with one idempotency key →
one entry, one 201 and fifteen replays (200); then sixteen credits of 1,000 by one person → five
201 and eleven queued for a second approver (202): the approval limit cannot be split by racing.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from portal.extensions import db
from tests.conftest import ROOT, api_token_for, scalar
from tests.plugins.loyalty.conftest import PLUGINS, balance, customer

THREADS = 16
WORKERS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(url: str, instance: Path, workers: int = WORKERS) -> Iterator[int]:
    """gunicorn serving ``wsgi:app`` on ``url``'s database; yields the port once it answers."""
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_PLUGINS": ",".join(PLUGINS),
           "PORTAL_SECRET_KEY": "test-secret-key-not-for-production", "PORTAL_INSTANCE_PATH": str(instance),
           "PORTAL_SECURE_COOKIES": "0"}
    for attempt in range(3):
        port = _free_port()
        proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(workers), "--bind",
                                 f"127.0.0.1:{port}", "--timeout", "60", "--log-level", "warning", "wsgi:app"],
                                cwd=ROOT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/login")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
            proc.wait()
            if attempt == 2:
                raise RuntimeError("gunicorn did not start")
            continue
        break
    try:
        time.sleep(1.0)  # let every worker finish booting, so the burst is spread over all four
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _burst(port: int, path: str, bodies: list[dict], token: str) -> list[tuple[int, dict]]:
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, dict] | None] = [None] * len(bodies)

    def fire(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        barrier.wait()
        conn.request("POST", path, body=json.dumps(bodies[i]),
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        resp = conn.getresponse()
        results[i] = (resp.status, json.loads(resp.read() or b"{}"))
        conn.close()

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in results), "a request did not finish"
    return results  # type: ignore[return-value]


def test_concurrent_redemptions_and_one_key_under_gunicorn(app, tmp_path):
    from plugins.loyalty.ledger import check, earn

    cid = 5
    earn(customer(cid), 1000, "opening balance")
    token = api_token_for("hq@example.com")
    db.session.commit()
    db.session.remove()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with gunicorn(url, tmp_path / "instance") as port:
        path = f"/api/v1/loyalty/accounts/{cid}/redeem"
        redeems = _burst(port, path, [{"points": 800, "reason": "race", "idempotency_key": f"r{i}"}
                                      for i in range(THREADS)], token)
        codes = Counter(status for status, _ in redeems)
        assert codes == {201: 1, 409: THREADS - 1}, redeems
        winner = next(body for status, body in redeems if status == 201)
        assert winner["balance"] == 200

        path = f"/api/v1/loyalty/accounts/{cid}/earn"
        same = {"points": 70, "reason": "one key", "idempotency_key": "the-one"}
        earns = _burst(port, path, [dict(same) for _ in range(THREADS)], token)
        codes = Counter(status for status, _ in earns)
        assert codes == {201: 1, 200: THREADS - 1}, earns
        assert len({body["entry"]["id"] for _status, body in earns}) == 1  # every answer names the one entry

        # The approval limit (5,000 per person, customer and window) cannot be split by racing:
        # sixteen credits of 1,000 at once → five credited, eleven wait for a second person.
        path = f"/api/v1/loyalty/accounts/{cid + 1}/earn"
        split = _burst(port, path, [{"points": 1000, "reason": "split", "idempotency_key": f"s{i}"}
                                    for i in range(THREADS)], token)
        assert Counter(status for status, _ in split) == {201: 5, 202: THREADS - 5}, split
    db.session.remove()
    assert balance(cid + 1) == 5000
    assert scalar("SELECT COUNT(*) FROM loy_approval WHERE status = 'pending'") == THREADS - 5
    assert balance(cid) == 270
    assert scalar("SELECT COUNT(*) FROM loy_entry WHERE reason = 'one key'") == 1
    assert scalar("SELECT COUNT(*) FROM loy_entry WHERE kind = 'redeem'") == 1
    assert check() == []
