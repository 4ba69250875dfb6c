"""Huey's own storage test suite (``huey.tests.test_storage.StorageTests``) against each storage as
the portal configures it from ``PORTAL_JOBS_URL`` (``portal.jobs.queue.storage_for``): the SQLite
file, Redis and Huey's PostgreSQL storage on psycopg 3 — every method Huey's consumer relies on."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from types import SimpleNamespace

import pytest
from huey.tests.base import BaseTestCase
from huey.tests.test_storage import StorageTests

from portal.jobs.queue import PortalHuey, storage_for
from tests.platform.jobs_support import postgres_url, redis_url


class _PortalStorage(StorageTests, BaseTestCase):
    __test__ = False  # the subclasses below run, one per storage
    url = ""
    supports_ttl = False

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp()
        cls.queue = f"c{uuid.uuid4().hex[:10]}"
        cls.prefix = f"hc_{cls.queue}"

    def get_huey(self) -> PortalHuey:
        app = SimpleNamespace(config={"PORTAL_JOBS_URL": self.url_for_test(),
                                      "PORTAL_JOBS_TABLE_PREFIX": self.prefix}, instance_path=self.tmp)
        storage_class, kwargs, _label = storage_for(app)
        if storage_class.__name__ == "PostgresStorage":
            kwargs["read_timeout"] = 0.1
        return PortalHuey(self.queue, utc=False, storage_class=storage_class, **kwargs)

    def url_for_test(self) -> str:
        return self.url

    def tearDown(self) -> None:
        self.huey.storage.flush_all()
        self.huey.storage.close()
        super().tearDown()

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()


class TestSqliteFile(_PortalStorage):
    __test__ = True

    def url_for_test(self) -> str:
        return ""  # the default: instance/jobs.db


class TestRedis(_PortalStorage):
    __test__ = True

    def url_for_test(self) -> str:
        return redis_url()


class TestPostgres(_PortalStorage):
    __test__ = True

    def url_for_test(self) -> str:
        return postgres_url()

    @classmethod
    def tearDownClass(cls) -> None:
        import os

        url = os.environ.get("PORTAL_TEST_POSTGRES_URL", "")
        if url:
            import psycopg

            with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
                for table in ("kv", "schedule", "task", "counter"):
                    conn.execute(f'DROP TABLE IF EXISTS "{cls.prefix}_{table}"')
        super().tearDownClass()


def test_the_contract_classes_are_collected():
    assert {c.__name__ for c in _PortalStorage.__subclasses__()} == {"TestSqliteFile", "TestRedis", "TestPostgres"}
    with pytest.raises(Exception, match="unsupported scheme"):
        storage_for(SimpleNamespace(config={"PORTAL_JOBS_URL": "amqp://x"}, instance_path="/tmp"))
