"""The provider client keeps one connection per dispatcher batch (bench/cem_dispatch.py: a new
connection per SMS cost more CPU than the rest of the send), replaces one the provider closed
while idle without losing or doubling a message, and drops one after a timeout. Real HTTP/1.1
servers on 127.0.0.1, no mocks."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from plugins.cem_channels.providers.http import PERMANENT, SENT, TEMPORARY, HttpProvider
from portal.extensions import db
from portal.messaging import dispatch, queue_message
from tests.conftest import _app_on_clone
from tests.plugins.cem_channels.conftest import PROVIDER_CONFIG, SENDER, _set_settings, cem_app


class KeepAliveProvider:
    """HTTP/1.1 with keep-alive; counts connections and idempotency keys. ``close_after_answer``
    closes every connection right after its answer without saying so (an idle timeout that hits
    just before the next request); ``stall`` sleeps before the next answer; ``status`` answers."""

    def __init__(self) -> None:
        self.connections = 0
        self.keys: Counter[str] = Counter()
        self.close_after_answer = False
        self.stall = 0.0
        self.status = 200
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with fake.lock:
                    fake.connections += 1

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake.lock:
                    stall, fake.stall = fake.stall, 0.0
                    status = fake.status
                    if status == 200:
                        fake.keys[body["idempotency_key"]] += 1
                if stall:
                    time.sleep(stall)
                data = json.dumps({"id": f"ka-{body['idempotency_key']}"} if status == 200 else {"error": "no"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except OSError:
                    return
                if fake.close_after_answer:
                    self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[KeepAliveProvider]:
    fake = KeepAliveProvider()
    yield fake
    fake.stop()


def payload(i: int) -> dict[str, Any]:
    return {"idempotency_key": f"ka:{i}", "type": "sms", "from": SENDER, "to": "01022223333", "text": "안내"}


def test_a_batch_shares_one_connection(server):
    provider = HttpProvider(server.url, "key", timeout=2)
    provider.open()
    answers = [provider.post("sms", payload(i)) for i in range(25)]
    provider.close()
    assert [a.status for a in answers] == [SENT] * 25 and answers[3].provider_id == "ka-ka:3"
    assert server.connections == 1 and len(server.keys) == 25


def test_outside_a_batch_no_connection_is_kept(server):
    provider = HttpProvider(server.url, timeout=2)
    assert all(provider.post("sms", payload(i)).status == SENT for i in range(3))
    assert server.connections == 3
    assert getattr(provider._local, "conn", None) is None


def test_a_connection_closed_by_the_provider_is_replaced_once_without_doubles(server):
    server.close_after_answer = True
    provider = HttpProvider(server.url, timeout=2)
    provider.open()
    answers = [provider.post("sms", payload(i)) for i in range(10)]
    provider.close()
    assert [a.status for a in answers] == [SENT] * 10
    assert server.keys == Counter({f"ka:{i}": 1 for i in range(10)})
    assert server.connections == 10


def test_a_timeout_drops_the_connection_and_the_next_message_goes_on_a_new_one(server):
    provider = HttpProvider(server.url, timeout=0.3)
    provider.open()
    assert provider.post("sms", payload(1)).status == SENT
    server.stall = 1.0
    late = provider.post("sms", payload(2))
    assert late.status == TEMPORARY and "timeout" in late.error
    assert provider.post("sms", payload(3)).status == SENT
    provider.close()
    assert server.connections == 2


def test_error_answers_keep_the_connection(server):
    provider = HttpProvider(server.url, timeout=2)
    provider.open()
    server.status = 503
    assert provider.post("sms", payload(1)).status == TEMPORARY
    server.status = 400
    refused = provider.post("sms", payload(2))
    assert refused.status == PERMANENT and refused.error == "provider HTTP 400: no"
    server.status = 200
    assert provider.post("sms", payload(3)).status == SENT
    provider.close()
    assert server.connections == 1


def test_nothing_listening_is_temporary():
    provider = HttpProvider("http://127.0.0.1:9", timeout=0.5)
    provider.open()
    answer = provider.post("sms", payload(1))
    provider.close()
    assert answer.status == TEMPORARY and "unreachable" in answer.error


@pytest.fixture
def keepalive_app(cem_template, server):
    for app in _app_on_clone(cem_template, factory=cem_app, PORTAL_CEM_PROVIDER_URL=server.url, **PROVIDER_CONFIG):
        from plugins.cem_channels.models import SenderNumber
        from portal.toolkit import utcnow

        db.session.add(SenderNumber(number=SENDER, label="대표번호", verified_at=utcnow()))
        _set_settings(sms_sender=SENDER)
        db.session.commit()
        yield app


def test_dispatch_sends_a_batch_over_one_connection(keepalive_app, server):
    for i in range(30):
        queue_message(channel="sms", purpose="service", body="주문하신 상품이 발송되었습니다.",
                      idempotency_key=f"batch:{i}", source="cem", to="010-2222-3333")
    db.session.commit()
    assert dispatch(limit=20)["sent"] == 20
    assert dispatch(limit=20)["sent"] == 10
    assert server.connections == 2  # one per dispatch batch, closed at its end
    assert sorted(server.keys.values()) == [1] * 30


# --- a provider that de-duplicates: 'sending' marked per group ------------------------------------

@pytest.fixture
def dedup_app(cem_template, server):
    for app in _app_on_clone(cem_template, factory=cem_app, PORTAL_CEM_PROVIDER_URL=server.url,
                             PORTAL_CEM_PROVIDER_DEDUPLICATES="1", **PROVIDER_CONFIG):
        from plugins.cem_channels.models import SenderNumber
        from portal.toolkit import utcnow

        db.session.add(SenderNumber(number=SENDER, label="대표번호", verified_at=utcnow()))
        _set_settings(sms_sender=SENDER)
        db.session.commit()
        yield app


def queue_sms(n: int, prefix: str = "g", source: str = "cem", source_object: str | None = None) -> None:
    for i in range(n):
        queue_message(channel="sms", purpose="service", body="주문하신 상품이 발송되었습니다.",
                      idempotency_key=f"{prefix}:{i}", source=source, source_object=source_object, to="010-2222-3333")
    db.session.commit()


@pytest.fixture
def marks():
    """Counts the statements that mark rows ``sending`` (one commit each)."""
    from sqlalchemy import event

    seen: list[str] = []

    def listen(conn, cursor, statement, *args: Any) -> None:
        if statement.startswith("UPDATE message SET status = 'sending'"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)


def statuses() -> Counter[str]:
    from sqlalchemy import text

    db.session.rollback()
    return Counter(dict(db.session.execute(text("SELECT status, count(*) FROM message GROUP BY status")).all()))


def test_a_deduplicating_provider_gets_sending_marked_per_group_of_50(dedup_app, server, marks):
    from plugins.cem_channels.providers.adapters import MARK_GROUP
    from portal.messaging import registry

    adapter = registry.adapters()["sms"]
    assert adapter.resend_in_doubt is True and adapter.mark_group == MARK_GROUP == 50
    queue_sms(120)
    assert dispatch(limit=500)["sent"] == 120
    assert len(marks) == 3  # 50 + 50 + 20
    assert statuses() == Counter({"sent": 120}) and sorted(server.keys.values()) == [1] * 120


def test_otherwise_one_mark_per_message(keepalive_app, server, marks):
    from portal.messaging import registry

    assert registry.adapters()["sms"].resend_in_doubt is False
    queue_sms(12)
    assert dispatch()["sent"] == 12
    assert len(marks) == 12


def test_a_group_left_in_doubt_is_sent_again_with_the_same_keys(dedup_app, server):
    """A killed sender's whole marked group: queued again after the lease, same keys. A provider
    that ignores keys gets at most that group twice (CE-16's bound); one that de-duplicates, once."""
    from datetime import timedelta

    from sqlalchemy import text

    from portal.toolkit import utcnow

    queue_sms(50, prefix="doubt")
    provider = HttpProvider(server.url, timeout=2)
    for i in range(20):  # the dead sender got 20 of its 50 out before the kill
        provider.post("sms", {"idempotency_key": f"doubt:{i}", "text": "x"})
    db.session.execute(text("UPDATE message SET status = 'sending', claimed_by = 'dead:1', claimed_at = :t"),
                       {"t": utcnow() - timedelta(hours=1)})
    db.session.commit()
    stats = dispatch()
    assert stats["requeued_in_doubt"] == 50 and stats["sent"] == 50
    assert statuses() == Counter({"sent": 50})
    assert len(server.keys) == 50 and max(server.keys.values()) == 2 and sum(server.keys.values()) == 70


def test_a_pause_inside_a_group_gives_the_marked_rest_back_to_the_queue(dedup_app, server):
    """A pause arriving between the claim and the group's mark: the rows of the group marked
    after the paused one go back to the queue, not into doubt."""
    import importlib

    from portal.messaging import pause, registry
    from portal.toolkit import utcnow

    d = importlib.import_module("portal.messaging.dispatch")
    queue_sms(1, prefix="a0", source_object="campaign:1")
    queue_sms(1, prefix="b0", source_object="campaign:2")
    queue_sms(2, prefix="a1", source_object="campaign:1")
    run = d._Run(d._token(), utcnow(), d.settings())
    ready = d._check(run, d._claim(run, 10, ["sms"]))
    assert [m.idempotency_key for m in ready] == ["a0:0", "b0:0", "a1:0", "a1:1"]
    pause("cem", "campaign:2")
    db.session.commit()
    d._send_channel(run, registry.adapters()["sms"], ready)
    d._after(run)
    assert run.stats["sent"] == 1 and run.stats["released"] == 3
    assert statuses() == Counter({"sent": 1, "queued": 3})
    assert list(server.keys) == ["a0:0"]
    assert dispatch()["sent"] == 2  # campaign:1 goes on; campaign:2 waits for its resume
    assert statuses() == Counter({"sent": 3, "queued": 1})


def test_group_size_follows_the_rate_and_the_promise():
    from portal.messaging.dispatch import _group_size

    class A:
        resend_in_doubt = True
        mark_group = 50

    class B(A):
        resend_in_doubt = False

    assert _group_size(A(), None) == 50
    assert _group_size(A(), 10.0) == 10
    assert _group_size(A(), 0.5) == 1
    assert _group_size(B(), None) == 1
