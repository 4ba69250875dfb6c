"""Run a portal CLI command in a child process the way an operator would, and measure it."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(ROOT / ".venv" / "bin" / "flask")


def run_cli(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """``flask --app wsgi portal <args>`` printing one JSON object; returns wall time, the child's
    peak RSS and CPU (``wait4``), the parsed output and its stderr stage lines time-stamped."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([FLASK, "--app", "wsgi", "portal", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stages: list[tuple[float, str]] = []

    def read_stderr() -> None:
        for line in proc.stderr:
            stages.append((round(time.perf_counter() - t0, 2), line.strip()))

    reader = threading.Thread(target=read_stderr)
    reader.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed ({proc.returncode}): {out[:2000]} {stages[-5:]}")
    return {"wall_s": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024),
            "user_cpu_s": round(usage.ru_utime, 1), "sys_cpu_s": round(usage.ru_stime, 1),
            "result": json.loads(out), "stages": stages}
