"""Launch of a 1,000,000-recipient cem_channels campaign on PostgreSQL (issue 15: frozen and queued
in under 60 s).

Usage::

    .venv/bin/python bench/cem_launch.py --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres
    .venv/bin/python bench/cem_launch.py --personal …    # the body names the customer ({{ customer.name }})
    .venv/bin/python bench/cem_launch.py --profile …     # the child under cProfile (top 40 by cumulative time)

1. **Database** ``pp_cem_launch`` (``--db-name``): the demo data set at 1,000,000 customers
   (``bench/load_data.py``: organisation, accounts, consents, households, data-quality issues),
   ``cem_channels`` installed, and then every customer made reachable by e-mail so the campaign
   has a million recipients: an address for those without one (``c<id>@bench.example``), a
   marketing consent (source ``bench``), open e-mail issues resolved, complaint flags cleared. Only
   shared addresses (households) remain, de-duplicated at queue time. The legal settings (sender
   name, contact, postal address, 080 number) come from the environment, as in production.
2. **Campaign**, as rows (the bench times the launch, not the approval): created by
   ``hq@example.com`` (HQ: every customer in scope), marketing, rules ``{"all": []}`` (all
   customers), one e-mail step with a message set whose rendition uses no per-customer variable
   (``--personal``: the body and HTML greet ``{{ customer.name }}``, so every message is rendered on
   its own), holdout 10 %, global control off, ``scheduled`` with ``start_at`` a minute ago.
   Before each run the previous runs' campaigns, messages, assignments and target lists are removed.
3. **Launch**, timed end to end in a child process (``python bench/cem_launch.py --child``: wall,
   CPU and peak RSS by ``wait4``): ``plugins.cem_channels.campaigns.launch.launch(campaign)`` and
   the commit. The child wraps the launch's calls (no change to them) to report each stage's wall
   time, its own CPU and its PostgreSQL backend's CPU: ``extraction`` (``create_extraction``: rules,
   suppression, ``INSERT … SELECT`` of the members), ``ids`` (the members read back into Python),
   ``draw`` (``portal.experiments.draw``: strata, numpy permutation, assignments written),
   ``recipients`` (``cem_campaign_recipient`` ``INSERT … SELECT`` and its counts), ``queue``
   (``queue_step``: ids read, render, ``queue_many``; e-mail tracking is added at send time) and ``commit``.
4. **Floor**: the same rows written with nothing of ours around them, in one transaction rolled
   back at the end — the members and the assignments by ``INSERT … SELECT`` from the launch's own
   rows, the recipients likewise, and the messages by a bare COPY of the launch's own first message
   with only the customer, address and key changed per row (as ``messaging_queue.py``).

Reported (``bench/results/cem-launch-*.json`` and ``cem-launch-latest.md``): stage table, total,
floor, load average before and after. The machine is shared: CPU seconds are the steadier figures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from messaging_setup import DEFAULT_PG, bench_env, db_url, process_cpu, raw, server_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DBNAME = "pp_cem_launch"
TARGET_S = 60.0
PYTHON = str(ROOT / ".venv" / "bin" / "python")
FLASK = str(ROOT / ".venv" / "bin" / "flask")
HQ = "hq@example.com"
SUBJECT = "{{ offer }} 봄 세일"
BODY = "파트너포털 봄 세일을 안내해 드립니다. {{ offer }} — {{ price_krw }}, 가까운 매장에서 확인하세요."
HTML = ('<html><body><p>파트너포털 봄 세일을 안내해 드립니다.</p><p>{{ offer }} — {{ price_krw }}</p>'
        '<p><a href="https://shop.example.com/spring">매장 찾기</a></p></body></html>')
GREETING = "{{ customer.name }}님, "


def launch_env(url: str) -> dict[str, str]:
    return bench_env(url, PORTAL_PLUGINS="cem_channels", PORTAL_MESSAGES_DISPATCH_ON_QUEUE="0",
                     PORTAL_SENDER_NAME="파트너포털", PORTAL_SENDER_CONTACT="02-1588-1234",
                     PORTAL_SENDER_ADDRESS="서울특별시 중구 세종대로 110", PORTAL_OPTOUT_080="080-123-4567",
                     PORTAL_GLOBAL_CONTROL_SHARE="0", PORTAL_SECURE_COOKIES="0")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the database --------------------------------------------------------------------------------------------

def prepare(pg_url: str, customers: int, dbname: str) -> str:
    """Demo data at scale (reused when loaded), cem_channels installed, e-mail marketing consent."""
    import psycopg

    url = db_url(pg_url, dbname)
    subprocess.run([PYTHON, str(ROOT / "bench" / "load_data.py"), "--customers", str(customers),
                    "--db-name", dbname, "--pg-url", pg_url], cwd=ROOT, check=True)
    env = launch_env(url)
    flask = [FLASK, "--app", "wsgi", "portal"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    with psycopg.connect(raw(url), autocommit=True) as conn:
        installed = conn.execute("SELECT installed FROM plugin_state WHERE name = 'cem_channels'").fetchone()
    if not (installed and installed[0]):
        print("installing cem_channels …", flush=True)
        subprocess.run([*flask, "plugins", "install", "cem_channels"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
    with psycopg.connect(raw(url), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM consent WHERE source = 'bench' LIMIT 1").fetchone():
            print("every customer reachable by e-mail: address, consent, no open e-mail issue or complaint …",
                  flush=True)
            with conn.transaction():
                conn.execute("UPDATE customer SET email = 'c' || id || '@bench.example' "
                             "WHERE email IS NULL OR email = ''")
                conn.execute("UPDATE quality_issue SET resolved_at = now() WHERE field = 'email' "
                             "AND resolved_at IS NULL")
                conn.execute("UPDATE customer SET complaint = false WHERE complaint")
                conn.execute("""
                    INSERT INTO consent (customer_id, channel, purpose, granted, method, recorded_at, kind, source)
                    SELECT id, 'email', 'marketing', true, 'web', now(), 'consent', 'bench' FROM customer""")
            for table in ("customer", "consent", "quality_issue"):
                conn.execute(f"VACUUM ANALYZE {table}")
    return url


def reset(url: str) -> None:
    """Remove earlier runs: campaigns, their messages, recipients, experiments and target lists."""
    import psycopg

    with psycopg.connect(raw(url), autocommit=True) as conn:
        conn.execute("DELETE FROM cem_campaign_recipient")
        conn.execute("TRUNCATE message CASCADE")
        conn.execute("DELETE FROM experiment_assignment WHERE experiment_id IN "
                     "(SELECT id FROM experiment WHERE owner_plugin = 'cem_channels')")
        conn.execute("DELETE FROM experiment WHERE owner_plugin = 'cem_channels'")
        conn.execute("DELETE FROM extraction_member WHERE extraction_id IN "
                     "(SELECT id FROM extraction WHERE name LIKE 'bench launch%')")
        conn.execute("DELETE FROM extraction WHERE name LIKE 'bench launch%'")
        conn.execute("DELETE FROM cem_campaign WHERE name LIKE 'bench launch%'")
        conn.execute("DELETE FROM contact WHERE source = 'cem_channels'")
        for table in ("message", "experiment_assignment", "extraction_member", "cem_campaign_recipient"):
            conn.execute(f"VACUUM ANALYZE {table}")


def make_campaign(url: str, personal: bool) -> int:
    """A scheduled HQ campaign on every customer, one e-mail step, holdout 10 %, no global control."""
    os.environ.update(launch_env(url))
    from sqlalchemy import select

    from plugins.cem_channels.campaign_models import SCHEDULED, CemCampaign, CemCampaignStep
    from plugins.cem_channels.voice import normalise_master, set_revision
    from plugins.cem_channels.voice_models import CemMessageSet, CemRendition
    from portal import create_app
    from portal.extensions import db
    from portal.models import User

    app = create_app()
    with app.app_context():
        hq = db.session.execute(select(User).where(User.email == HQ)).scalar_one()
        master, problems = normalise_master({"offer": "전 품목 20% 할인", "price": "39,000",
                                             "valid_from": "2026-03-01", "valid_until": "2026-03-31"})
        assert not problems, problems
        greet = GREETING if personal else ""
        ms = CemMessageSet(name=f"bench launch {'personal' if personal else 'fixed'}", category=None, master=master)
        ms.renditions = [CemRendition(channel="email", subject=SUBJECT, body=greet + BODY,
                                      html=HTML.replace("<body>", f"<body><p>{greet}</p>") if personal else HTML)]
        set_revision(ms)
        db.session.add(ms)
        db.session.flush()
        campaign = CemCampaign(name=f"bench launch {datetime.now():%H%M%S}", purpose="marketing", state=SCHEDULED,
                               created_by_id=hq.id, rules={"all": []}, holdout_share=0.1,
                               use_global_control=False, seed=20261207, counts={}, max_lateness_minutes=120,
                               start_at=datetime.utcnow() - timedelta(minutes=1))
        campaign.steps.append(CemCampaignStep(position=1, channel="email", message_set_id=ms.id))
        db.session.add(campaign)
        db.session.commit()
        return campaign.id


# --- the child: launch() with its stages timed -----------------------------------------------------------------

def child(url: str, campaign_id: int, profile: bool) -> None:
    """Runs in its own process: launch the campaign, commit, print one JSON object on stdout."""
    os.environ.update(launch_env(url))
    from sqlalchemy import text

    from plugins.cem_channels.campaign_models import CemCampaign
    from plugins.cem_channels.campaigns import launch as launch_mod
    from portal import create_app
    from portal.extensions import db

    app = create_app()
    stages: dict[str, dict[str, float]] = {}
    with app.app_context():
        backend = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def timed(name: str, func: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                t, c, b = time.perf_counter(), cpu(), process_cpu(backend)
                try:
                    return func(*args, **kwargs)
                finally:
                    s = stages.setdefault(name, {"wall_s": 0.0, "cpu_python_s": 0.0, "cpu_backend_s": 0.0})
                    s["wall_s"] += time.perf_counter() - t
                    s["cpu_python_s"] += cpu() - c
                    s["cpu_backend_s"] += process_cpu(backend) - b
                    print(f"{name} {time.perf_counter() - t:.2f} s", file=sys.stderr, flush=True)
            return wrapper

        launch_mod.create_extraction = timed("extraction", launch_mod.create_extraction)
        launch_mod._eligible = timed("extraction+ids", launch_mod._eligible)
        launch_mod.draw = timed("draw", launch_mod.draw)
        launch_mod._write_recipients = timed("recipients", launch_mod._write_recipients)
        launch_mod._recipient_counts = timed("recipients", launch_mod._recipient_counts)
        launch_mod.queue_step = timed("queue", launch_mod.queue_step)
        campaign = db.session.get(CemCampaign, campaign_id)
        t, c, b = time.perf_counter(), cpu(), process_cpu(backend)
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            result = prof.runcall(launch_mod.launch, campaign)
        else:
            result = launch_mod.launch(campaign)
        commit = timed("commit", db.session.commit)
        commit()
        total = {"wall_s": time.perf_counter() - t, "cpu_python_s": cpu() - c, "cpu_backend_s": process_cpu(backend) - b}
        eligible = stages.pop("extraction+ids")
        stages["ids"] = {k: eligible[k] - stages["extraction"][k] for k in eligible}
        out: dict[str, Any] = {"result": result, "stages": stages, "total": total}
        out["messages"] = db.session.execute(text("SELECT count(*) FROM message")).scalar_one()
        sample = db.session.execute(text("SELECT subject, body, html, headers, to_addr FROM message "
                                         "ORDER BY id LIMIT 1")).one()
        out["sample"] = dict(sample._mapping)
        if profile:
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(40)
            out["profile"] = buf.getvalue()
    print(json.dumps(out, default=str, ensure_ascii=False))


def run_child(url: str, campaign_id: int, profile: bool) -> dict[str, Any]:
    """The child as an operator's process would run: wall, CPU and peak RSS from ``wait4``
    (as ``child_process.run_cli``; stderr read by a thread so neither pipe fills up)."""
    t0 = time.perf_counter()
    args = [PYTHON, __file__, "--child", str(campaign_id), "--url", url] + (
        ["--profile"] if profile else [])
    proc = subprocess.Popen(args, cwd=ROOT, env=launch_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    err_lines: list[str] = []

    def read_stderr() -> None:
        for line in proc.stderr:
            err_lines.append(line)
            if line.split(" ")[0] in ("extraction", "extraction+ids", "draw", "recipients", "queue", "commit"):
                print(f"  {time.perf_counter() - t0:6.1f} s  {line.strip()}", flush=True)

    reader = threading.Thread(target=read_stderr)
    reader.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    if proc.returncode != 0:
        raise SystemExit(f"launch child failed ({proc.returncode}):\n{''.join(err_lines)[-4000:]}")
    data = json.loads(out.strip().splitlines()[-1])
    data["process"] = {"wall_s": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024),
                       "user_cpu_s": round(usage.ru_utime, 1), "sys_cpu_s": round(usage.ru_stime, 1)}
    return data


# --- the floor ----------------------------------------------------------------------------------------------

def floor(url: str, campaign_id: int) -> dict[str, Any]:
    """The launch's rows written bare, in one transaction that is rolled back."""
    import psycopg

    out: dict[str, Any] = {}
    with psycopg.connect(raw(url)) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        ext_id, exp_id = conn.execute(
            "SELECT c.extraction_id, e.id FROM cem_campaign c JOIN experiment e ON e.owner_plugin = 'cem_channels' "
            "AND e.owner_ref = 'campaign:' || c.id WHERE c.id = %s", (campaign_id,)).fetchone()
        sample = conn.execute("SELECT channel, purpose, subject, body, html, headers::text, source, source_object, "
                              "step, not_before, expires_at FROM message ORDER BY id LIMIT 1").fetchone()
        treated = conn.execute("SELECT r.customer_id, c.email FROM cem_campaign_recipient r "
                               "JOIN customer c ON c.id = r.customer_id WHERE r.campaign_id = %s "
                               "AND r.arm = 'treatment' ORDER BY r.customer_id", (campaign_id,)).fetchall()

        def step(name: str, work: Any) -> None:
            t, b = time.perf_counter(), process_cpu(backend)
            rows = work()
            out[name] = {"wall_s": time.perf_counter() - t, "cpu_backend_s": process_cpu(backend) - b, "rows": rows}

        new_ext = conn.execute("INSERT INTO extraction (name, channel, rules, included, excluded, created_by_id, "
                               "status, created_at) SELECT 'bench floor', channel, rules, 0, '{}', created_by_id, "
                               "'draft', now() FROM extraction WHERE id = %s RETURNING id", (ext_id,)).fetchone()[0]
        new_exp = conn.execute("INSERT INTO experiment (owner_plugin, owner_ref, seed, holdout_share, "
                               "use_global_control, status, strata, created_at) SELECT owner_plugin, 'bench:floor', "
                               "seed, holdout_share, use_global_control, 'drawn', strata, now() FROM experiment "
                               "WHERE id = %s RETURNING id", (exp_id,)).fetchone()[0]
        new_campaign = conn.execute("INSERT INTO cem_campaign (name, purpose, state, max_lateness_minutes, "
                                    "holdout_share, use_global_control, attribution_days, seed, ab_wait_hours, "
                                    "ab_fallback, dedupe_by_address, counts, created_at, updated_at) SELECT "
                                    "'bench launch floor', purpose, 'sending', max_lateness_minutes, holdout_share, "
                                    "use_global_control, attribution_days, seed, ab_wait_hours, ab_fallback, "
                                    "dedupe_by_address, '{}', now(), now() FROM cem_campaign WHERE id = %s "
                                    "RETURNING id", (campaign_id,)).fetchone()[0]
        step("extraction", lambda: conn.execute(
            "INSERT INTO extraction_member (extraction_id, customer_id) SELECT %s, customer_id "
            "FROM extraction_member WHERE extraction_id = %s", (new_ext, ext_id)).rowcount)
        step("draw", lambda: conn.execute(
            "INSERT INTO experiment_assignment (experiment_id, customer_id, arm, stratum, merged) "
            "SELECT %s, customer_id, arm, stratum, merged FROM experiment_assignment "
            "WHERE experiment_id = %s", (new_exp, exp_id)).rowcount)
        step("recipients", lambda: conn.execute(
            "INSERT INTO cem_campaign_recipient (campaign_id, customer_id, arm, variant) "
            "SELECT %s, r.customer_id, r.arm, r.variant FROM cem_campaign_recipient r WHERE r.campaign_id = %s",
            (new_campaign, campaign_id)).rowcount)

        def copy_messages() -> int:
            cols = ("channel, purpose, customer_id, to_addr, subject, body, html, headers, source, source_object, "
                    "step, idempotency_key, not_before, expires_at, status, attempts, created_at, updated_at")
            now = datetime.utcnow()
            ch, purpose, subject, body, html, headers, source, obj, stp, nb, exp = sample
            with conn.cursor() as cur, cur.copy(f"COPY message ({cols}) FROM STDIN") as copy:
                for cid, email in treated:
                    copy.write_row((ch, purpose, cid, email, subject, body, html, headers, source, "floor", stp,
                                    f"floor:{cid}", nb, exp, "queued", 0, now, now))
            return len(treated)

        step("queue (COPY)", copy_messages)
        conn.rollback()
    return out


# --- report --------------------------------------------------------------------------------------------------

def table(result: dict[str, Any]) -> str:
    launch, flr = result["launch"], result.get("floor", {})
    buf = io.StringIO()
    buf.write("| stage | wall s | CPU python s | CPU PG backend s | floor wall s | floor CPU PG s | floor rows |\n")
    buf.write("|---|---|---|---|---|---|---|\n")
    for name, fname in (("extraction", "extraction"), ("ids", None), ("draw", "draw"),
                        ("recipients", "recipients"), ("queue", "queue (COPY)"), ("commit", None)):
        s = launch["stages"].get(name)
        if s is None:
            continue
        f = flr.get(fname) if fname else None
        buf.write(f"| {name} | {s['wall_s']:.1f} | {s['cpu_python_s']:.1f} | {s['cpu_backend_s']:.1f} | "
                  + (f"{f['wall_s']:.1f} | {f['cpu_backend_s']:.1f} | {f['rows']:,} |\n" if f else "– | – | – |\n"))
    t = launch["total"]
    fsum = sum(v["wall_s"] for v in flr.values()) if flr else 0.0
    buf.write(f"| **total launch()** | **{t['wall_s']:.1f}** | {t['cpu_python_s']:.1f} | {t['cpu_backend_s']:.1f} | "
              f"{fsum:.1f} | {sum(v['cpu_backend_s'] for v in flr.values()):.1f} | |\n")
    p = launch["process"]
    buf.write(f"\nchild process: wall {p['wall_s']} s (imports and app start included), CPU user {p['user_cpu_s']} s "
              f"+ sys {p['sys_cpu_s']} s, peak RSS {p['peak_rss_mib']} MiB; load {result['load_before'][0]:.1f} "
              f"before, {result['load_after'][0]:.1f} after; {launch['messages']:,} messages, counts "
              f"{json.dumps({k: launch['result']['counts'].get(k) for k in ('eligible', 'treatment', 'holdout')})}\n")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pg-url", default=DEFAULT_PG)
    ap.add_argument("--db-name", default=DBNAME)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--personal", action="store_true", help="render per customer ({{ customer.name }})")
    ap.add_argument("--profile", action="store_true", help="run the launch under cProfile")
    ap.add_argument("--no-floor", action="store_true")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.url, args.child, args.profile)
        return
    url = prepare(args.pg_url, args.customers, args.db_name)
    reset(url)
    campaign_id = make_campaign(url, args.personal)
    result: dict[str, Any] = {"when": datetime.now().isoformat(timespec="seconds"), "machine": platform.machine(),
                              "cpus": os.cpu_count(), "personal": args.personal, "server": server_settings(url),
                              "load_before": os.getloadavg()}
    print(f"launching campaign {campaign_id} (load {result['load_before'][0]:.1f}) …", flush=True)
    result["launch"] = launch = run_child(url, campaign_id, args.profile)
    result["load_after"] = os.getloadavg()
    if not args.no_floor:
        result["floor"] = floor(url, campaign_id)
    text = table(result)
    total = launch["total"]["wall_s"]
    verdict = "PASS" if total < TARGET_S and launch["result"].get("state") == "sending" else "FAIL"
    print(text)
    print(f"launch(): {launch['messages']:,} messages in {total:.1f} s — target < {TARGET_S:.0f} s: {verdict}")
    if args.profile:
        print(launch.get("profile", ""))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    label = "cem-launch" + ("-personal" if args.personal else "")
    (RESULTS / f"{label}-{stamp}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    (RESULTS / f"{label}-latest.md").write_text(text)


if __name__ == "__main__":
    main()
