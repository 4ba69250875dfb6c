"""kill -9 of the sending process in the middle of 1,000 e-mails, then a restart: the SMTP server
receives every message exactly once (by Message-ID), and the batch is not done before every
message is terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from portal.extensions import db
from portal.messaging import progress, queue_many
from tests.conftest import ROOT, TEST_PLUGIN
from tests.smtp_sink import smtp_sink  # noqa: F401  (fixture)

N = 1000
LEASE = 1.0


def _sender(app, sink, tmp_path) -> subprocess.Popen:
    env = {**os.environ, "PORTAL_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "PORTAL_INSTANCE_PATH": str(tmp_path / "instance"), "PORTAL_SECRET_KEY": "x" * 40,
           "PORTAL_PLUGINS": TEST_PLUGIN, "PORTAL_SMTP_URL": sink.url,
           "PORTAL_MESSAGES_LEASE_SECONDS": str(LEASE)}
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "portal", "messages", "send", "--batch", "200"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kill_9_mid_batch_then_restart_delivers_each_message_exactly_once(app, smtp_sink, tmp_path):  # noqa: F811
    app.config["PORTAL_MESSAGES_DISPATCH_ON_QUEUE"] = False
    rows = [{"channel": "email", "purpose": "service", "to": f"r{i}@example.com", "subject": f"안내 {i}",
             "body": f"본문 {i}", "idempotency_key": f"kill:{i}", "source": "test", "source_object": "batch:1"}
            for i in range(N)]
    assert queue_many(rows) == N
    db.session.commit()
    db.session.remove()

    proc = _sender(app, smtp_sink, tmp_path)
    deadline = time.time() + 120
    while len(smtp_sink.received) < 300 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    delivered_before = len(smtp_sink.received)
    assert 300 <= delivered_before < N, "the sender was not killed mid-batch"

    report = progress("test", "batch:1")
    assert not report["done"] and report["terminal"] < N
    db.session.remove()

    time.sleep(LEASE + 0.2)  # the dead sender's claims expire
    proc = _sender(app, smtp_sink, tmp_path)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]

    ids = smtp_sink.message_ids()
    assert len(ids) == N, f"{N - len(ids)} messages never arrived"
    assert max(ids.values()) == 1, [k for k, v in ids.items() if v > 1]
    report = progress("test", "batch:1")
    assert report["done"] and report["counts"]["sent"] == N
    # Every row names the Message-ID the server received.
    from sqlalchemy import text

    provider_ids = {r[0] for r in db.session.execute(text("SELECT provider_id FROM message WHERE source = 'test'"))}
    assert provider_ids == set(ids)
