"""The partition case of scripts/cluster-harness: one node reaches PostgreSQL through scripts/tcp-proxy, which the
harness freezes (SIGSTOP: a black hole, connections left open) or kills (reset) for a while, then heals.

What the cut-off node must do, checked here by SQL, by the node's /healthz and by the ledger:
  P1. fence itself: /healthz answers 503 within lease_ttl x 3/4 + slack of the cut (and not before the cut);
  P2. stop its runs before another node reaps it: every run of its that a reaper recorded `interrupted` has its
      ledger end line before the reap;
  P3. claim nothing while cut off (no row of it claimed between the cut and the heal, by the database clock);
  P4. rejoin by itself: /healthz 200 again within a bound of the heal, and rows claimed by it after the heal;
  P5. a reaped run of a job with retries left is retried exactly once, on another node, and no retry starts
      before its original ended (the ledger); this holds for every retry of the run, partitioned or not.
A partition shorter than the trust window (ttl x 3/4) must change nothing: no fence, no reap.
"""
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))


def iso(at):
    return datetime.fromtimestamp(at, timezone.utc).isoformat()


class Proxy:
    """scripts/tcp-proxy between one node and PostgreSQL."""

    def __init__(self, work, target_port):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.target = f"127.0.0.1:{target_port}"
        self.log = open(os.path.join(work, "proxy.log"), "ab")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([os.path.join(HERE, "tcp-proxy"), str(self.port), self.target],
                                     stdout=subprocess.PIPE, stderr=self.log, start_new_session=True)
        self.proc.stdout.readline()  # "ready"

    def cut(self, mode):
        if mode == "freeze":
            self.proc.send_signal(signal.SIGSTOP)
        else:
            self.proc.kill()
            self.proc.wait()

    def heal(self, mode):
        if mode == "freeze":
            self.proc.send_signal(signal.SIGCONT)
        else:
            self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


class HealthWatch(threading.Thread):
    """Polls a node's /healthz every 0.2 s; keeps (time, HTTP status or None) at every change."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.changes = []
        self.stopped = threading.Event()

    def status(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except Exception:
            return None

    def run(self):
        last = "unset"
        while not self.stopped.is_set():
            at = time.time()
            code = self.status()
            if code != last:
                self.changes.append((at, code))
                last = code
            self.stopped.wait(0.2)

    def first(self, code, after, before=float("inf")):
        """When the status first became `code` in [after, before), or None."""
        current = None
        for at, value in self.changes:
            if at < after:
                current = value
                continue
            if at >= before:
                break
            if value == code:
                return at
        return after if current == code else None


def plan(duration, ttl, long_form, at=None, seconds=None, mode="freeze"):
    """The partitions of a run: (start offset, length, mode). The short form cuts once, longer than the lease; the
    long form also cuts for less than the trust window (nothing may happen) and resets the connections once."""
    longer = seconds if seconds is not None else ttl + 5
    if long_form:
        return [(duration * 0.2, longer, "freeze"), (duration * 0.4, ttl * 0.4, "freeze"),
                (duration * 0.7, longer, "reset")]
    return [(at if at is not None else 8, longer, mode)]


def check(pg, node, watch, windows, ttl, starts, ends, log):
    """The checks P1–P5; returns the failures (strings)."""
    failures = []
    trust = ttl * 0.75
    slack = 2.5
    for cut, heal, mode in windows:
        label = f"{mode} {heal - cut:.0f} s at {iso(cut)[11:19]}"
        fenced_at = watch.first(503, cut - 30, heal + 5)
        if heal - cut <= trust * 0.8:
            if fenced_at is not None and fenced_at >= cut - 1:
                failures.append(f"P1. {label}: shorter than the trust window, yet /healthz went 503")
            reaped = pg.query(f"""SELECT count(*) FROM execution WHERE host = '{node}'
                AND reaped_at BETWEEN '{iso(cut)}' AND '{iso(heal + ttl)}'""")
            if int(reaped[0][0]):
                failures.append(f"P2. {label}: shorter than the trust window, yet {reaped[0][0]} runs were reaped")
            log(f"partition {label}: no fence, nothing reaped")
            continue
        # P1: fenced within the trust window (+ slack: a heartbeat and the watchdog's period), not before the cut.
        if fenced_at is None:
            failures.append(f"P1. {label}: /healthz never answered 503")
        elif fenced_at < cut - 0.5:
            failures.append(f"P1. {label}: /healthz was 503 before the cut ({fenced_at - cut:.1f} s)")
        elif fenced_at - cut > trust + slack:
            failures.append(f"P1. {label}: fenced {fenced_at - cut:.1f} s after the cut (bound {trust + slack:.1f} s)")
        # P2: every run that a reaper recorded ended (ledger) before its reap.
        reaped = pg.query(f"""SELECT id, job_id, extract(epoch FROM reaped_at) FROM execution WHERE host = '{node}'
            AND reaped_at BETWEEN '{iso(cut)}' AND '{iso(heal + ttl)}'""")
        unstopped = []
        for ident, job, reaped_at in reaped:
            if ident in starts and (ident not in ends or ends[ident]["at"] >= float(reaped_at)):
                unstopped.append((job, ident, ends.get(ident, {}).get("at", "no end")))
        if unstopped:
            failures.append(f"P2. {label}: {len(unstopped)} runs still going when reaped: {unstopped[:3]}")
        ran = sum(1 for ident, _, _ in reaped if ident in starts)
        # P3: nothing claimed between the cut and the heal (the pre-claimed ≤ lookahead before the cut excepted).
        claimed = pg.query(f"""SELECT count(*) FROM execution WHERE host = '{node}'
            AND claimed_at > '{iso(cut + 0.5)}' AND claimed_at < '{iso(heal)}'""")
        if int(claimed[0][0]):
            failures.append(f"P3. {label}: {claimed[0][0]} rows claimed by the cut-off node")
        # P4: back by itself: healthy again, and claiming.
        back_at = watch.first(200, heal)
        if back_at is None or back_at - heal > 15:
            failures.append(f"P4. {label}: /healthz not 200 within 15 s of the heal ({back_at and back_at - heal})")
        again = pg.query(f"SELECT count(*) FROM execution WHERE host = '{node}' AND claimed_at > '{iso(heal)}'")
        if not int(again[0][0]):
            failures.append(f"P4. {label}: the node claimed nothing after the heal")
        log(f"partition {label}: fenced after {fenced_at and round(fenced_at - cut, 1)} s, {len(reaped)} rows "
            f"reaped ({ran} had started, all ended first), healthy {back_at and round(back_at - heal, 1)} s after "
            f"the heal, {again[0][0]} rows claimed since")
        if not reaped:
            failures.append(f"P2. {label}: no run of the cut-off node was reaped: the case was not exercised")
    failures += check_retries(pg, node, any(heal - cut > ttl for cut, heal, _ in windows), starts, ends, log)
    return failures


def check_retries(pg, node, exercised, starts, ends, log):
    failures = []
    # P5a: every reaped run of a job with retries left (the pinned jobs: retries = 1) has exactly one retry.
    missing = pg.query("""SELECT o.id, o.job_id, count(r.id) FROM execution o
        LEFT JOIN execution r ON r.retry_of = o.id
        WHERE o.reaped_at IS NOT NULL AND o.job_id LIKE 'pinned%' AND o.attempt <= 1
        GROUP BY 1, 2 HAVING count(r.id) <> 1""")
    if missing:
        failures.append(f"P5. {len(missing)} reaped runs without exactly one retry: {missing[:3]}")
    # P5b: retries run elsewhere, and start after their original ended (ledger).
    retries = pg.query("""SELECT r.id, r.retry_of, r.host, o.host, r.attempt, o.attempt FROM execution r
        JOIN execution o ON o.id = r.retry_of WHERE r.trigger = 'retry'""")
    overlaps = []
    for ident, original, host, original_host, attempt, original_attempt in retries:
        if int(attempt) != int(original_attempt) + 1:
            failures.append(f"P5. retry {ident} is attempt {attempt} of an attempt {original_attempt}")
        if ident not in starts or original not in starts:
            continue
        end = ends.get(original, {}).get("at")
        if end is None or end >= starts[ident]["at"]:
            overlaps.append((ident, original, host, original_host, end and round(starts[ident]["at"] - end, 2)))
    if overlaps:
        failures.append(f"P5. {len(overlaps)} retries overlap their original: {overlaps[:3]}")
    gaps = sorted(starts[r[0]]["at"] - ends[r[1]]["at"] for r in retries
                  if r[0] in starts and r[1] in ends)
    log(f"retries of reaped runs: {len(retries)} ({sum(1 for r in retries if r[2] != node)} on other nodes); "
        f"original end -> retry start: min {gaps and round(gaps[0], 1)} s")
    if exercised and not retries:
        failures.append("P5. no reaped run was retried: the case was not exercised")
    return failures
