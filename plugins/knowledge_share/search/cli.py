"""``flask portal knowledge_share reindex``: rebuild the search documents (after a change of the
tokeniser, or to repair an index restored from a backup)."""

from __future__ import annotations

import time
from typing import Any

import click

from portal.toolkit import db


def register(group: Any) -> None:
    @group.command("reindex")
    @click.option("--chunk", default=1000, show_default=True, type=click.IntRange(10, 50_000),
                  help="Stories per chunk.")
    def reindex(chunk: int) -> None:
        """Rebuild the search documents of every published story."""
        from .index import reindex_all

        started = time.perf_counter()
        n = reindex_all(chunk=chunk)
        db.session.commit()
        click.echo(f"{n} stories indexed in {time.perf_counter() - started:.1f} s")
