"""CPU time per process kind on a machine that runs the server, PostgreSQL and the load generator."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time (user + system) so far of the gunicorn processes (the server's process group) and
    of every PostgreSQL process on this machine: with the load generator's, where a request's CPU
    goes on a machine that runs all three."""
    tick = os.sysconf("SC_CLK_TCK")
    group = os.getpgid(server_pid)
    totals = {"gunicorn": 0.0, "postgres": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        comm, rest = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
        used = (int(rest[11]) + int(rest[12])) / tick  # utime, stime (fields 14 and 15)
        if int(rest[2]) == group:  # pgrp (field 5)
            totals["gunicorn"] += used
        elif comm == "postgres":
            totals["postgres"] += used
    return totals


def children_cpu_seconds() -> float:
    """CPU time (user + system) of this process's finished children, e.g. every ``wrk`` run so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def cpu_used(server_pid: int) -> Iterator[dict[str, float]]:
    """CPU seconds of gunicorn, PostgreSQL and the child processes (``wrk``) spent inside the block;
    the dict is filled when the block ends."""
    used: dict[str, float] = {}
    before, children_before = cpu_seconds(server_pid), children_cpu_seconds()
    yield used
    after = cpu_seconds(server_pid)
    used.update({k: after[k] - before.get(k, 0) for k in after})
    used["wrk"] = children_cpu_seconds() - children_before
