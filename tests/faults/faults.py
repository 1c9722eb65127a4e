"""The fault sweep: runs on PostgreSQL while replicas are killed and the database restarts.

It starts a private PostgreSQL (initdb in a temporary directory, on a free port: never
the machine's shared server), the scripted fake model backend, one ``assistd serve
--no-workers`` and several ``assistd worker`` processes with short leases. While it
creates runs (each one a thread with a message and a queued run), a chaos thread
``kill -9``s random workers (and starts new ones), ``kill -9``s the server once and
restarts it on the same port, and restarts PostgreSQL once (``pg_ctl restart -m fast``).
Writes are retried the way the SDKs retry them (connection errors, 503, 429 and 5xx).

Then it asserts:

- 0 runs stuck: every run reaches a final state;
- 0 acknowledged writes lost: every thread, message and run the server answered 200 for
  is still there;
- 0 duplicate answers: no run has more than one completed assistant message;
- no run failed because a replica died: a run whose worker dies is queued again (the
  engine gives a run 5 drives), so ``failed`` runs are counted and must be 0;
- with the database stopped, a request answers 503 with ``Retry-After`` (which the
  SDKs retry) within the pool's wait, and ``/readyz`` answers 503 within seconds;
- every thread is usable afterwards: one more run on each completes.

Figures are printed as JSON (and written to ``--out``). ``scripts/faults`` runs it;
``scripts/test`` runs a bounded form.

    python tests/faults/faults.py --bin target/debug/assistd --runs 100 --kills 18
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx2 as httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sdk"))
from fake_llm import FakeLLM  # noqa: E402

KEY = "sk-faults"
FINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    path = shutil.which(name)
    if not path:
        sys.exit(f"faults: PostgreSQL's {name} not found (install the postgresql package)")
    return path


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a temporary directory (as the postgres user
    when we are root: initdb refuses root)."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "pg"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(root, "postgres")
        self.dir.mkdir()
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.run(pg_bin("initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(pg_bin("pg_ctl"), "-D", str(self.dir), "-o", opts, "-w", "-l", str(self.dir / "log"), *args)

    def start(self) -> None:
        self.ctl("start")

    def restart(self) -> None:
        self.ctl("restart", "-m", "fast")

    def stop(self) -> None:
        try:
            self.ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass


class Proc:
    """An assistd process; its stderr goes to a file."""

    def __init__(self, args: list[str], env: dict, log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.p: subprocess.Popen | None = None

    def start(self) -> None:
        err = open(self.log, "ab")
        self.p = subprocess.Popen(self.args, env=self.env, stdout=subprocess.PIPE, stderr=err, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("assistd listening on"):
            raise RuntimeError(f"{self.args[1]} did not start: {self.log.read_text()[-2000:]}")
        # keep draining stdout so the process never blocks on it
        threading.Thread(target=self.p.stdout.read, daemon=True).start()

    def kill9(self) -> None:
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()

    def stop(self) -> None:
        if self.p and self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


class Client:
    """REST calls retried as the SDKs retry them (connection errors, 409/429/5xx)."""

    def __init__(self, base: str, deadline_s: float = 60) -> None:
        self.http = httpx.Client(base_url=base, headers={"authorization": f"Bearer {KEY}"}, timeout=30)
        self.deadline_s = deadline_s
        self.retries = 0

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        start = time.monotonic()
        while True:
            try:
                r = self.http.request(method, path, json=body)
                if r.status_code == 200:
                    return r.json()
                if r.status_code not in (409, 429) and r.status_code < 500:
                    raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
            except httpx.TransportError:
                pass
            self.retries += 1
            if time.monotonic() - start > self.deadline_s:
                raise AssertionError(f"{method} {path}: no success within {self.deadline_s}s")
            time.sleep(0.2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("ASSISTD_BIN", "target/debug/assistd"))
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--kills", type=int, default=18, help="worker kill -9s")
    ap.add_argument("--lease", default="1.5", help="run lease (s)")
    ap.add_argument("--answer-s", type=float, default=0.6, help="how long the fake model takes per answer")
    ap.add_argument("--settle-s", type=float, default=90, help="how long runs get to finish after the chaos")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="assistd-faults-"))
    pg = PrivatePostgres(root)
    pg.start()
    fake = FakeLLM()
    pieces = ["An", " answer", " in", " six", " short", " pieces."]
    fake.default = {"text": pieces, "sleep": args.answer_s / len(pieces)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTD_")}
    env.update(
        ASSISTD_API_KEYS=KEY,
        ASSISTD_DATABASE_URL=pg.url,
        ASSISTD_LLM_BASE_URL=fake.base_url,
        ASSISTD_EMBEDDINGS_MODEL="none",
        ASSISTD_LOG="warn",
        ASSISTD_DB_ACQUIRE_TIMEOUT="2",
    )
    data = str(root / "data")
    server = Proc(
        [args.bin, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data, "--no-workers", "--run-lease", args.lease],
        env,
        root / "serve.log",
    )
    worker_args = [args.bin, "worker", "--listen", "127.0.0.1:0", "--data-dir", data, "--run-lease", args.lease,
                   "--upstream", f"vector_stores={base}"]
    workers = [Proc(worker_args, env, root / f"worker-{i}.log") for i in range(args.workers)]
    figures: dict = {"runs": args.runs, "workers": args.workers, "lease_s": float(args.lease)}
    try:
        server.start()
        for w in workers:
            w.start()
        c = Client(base + "/v1")
        assistant = c.call("POST", "/assistants", {"model": "fake", "instructions": "Answer briefly."})

        # Chaos: worker kill -9s spread over the load, one server kill -9, one database restart.
        stop = threading.Event()
        events: list[str] = []

        def chaos() -> None:
            gap = max(0.3, args.runs * args.answer_s / args.workers / max(args.kills, 1))
            kills = 0
            while not stop.is_set() and kills < args.kills:
                time.sleep(gap * rng.uniform(0.5, 1.5))
                w = rng.choice(workers)
                w.kill9()
                kills += 1
                events.append(f"kill -9 worker ({kills})")
                w.start()
                if kills == args.kills // 3:
                    server.kill9()
                    events.append("kill -9 server")
                    server.start()
                if kills == 2 * args.kills // 3:
                    pg.restart()
                    events.append("postgres restart")
            figures["worker_kills"] = kills

        chaos_thread = threading.Thread(target=chaos, daemon=True)
        chaos_thread.start()
        acknowledged: list[tuple[str, str, str]] = []  # (thread, message, run)
        started = time.monotonic()
        for i in range(args.runs):
            t = c.call("POST", "/threads", {})
            m = c.call("POST", f"/threads/{t['id']}/messages", {"role": "user", "content": f"question {i}"})
            r = c.call("POST", f"/threads/{t['id']}/runs", {"assistant_id": assistant["id"]})
            acknowledged.append((t["id"], m["id"], r["id"]))
            time.sleep(args.answer_s / args.workers / 2)
        chaos_thread.join()
        stop.set()
        figures["events"] = events
        figures["load_s"] = round(time.monotonic() - started, 1)

        # Every run reaches a final state.
        deadline = time.monotonic() + args.settle_s
        status: dict[str, dict] = {}
        for t, _, r in acknowledged:
            while True:
                run = c.call("GET", f"/threads/{t}/runs/{r}")
                if run["status"] in FINAL or time.monotonic() > deadline:
                    status[r] = run
                    break
                time.sleep(0.2)
        stuck = [r for r, run in status.items() if run["status"] not in FINAL]
        counts: dict[str, int] = {}
        for run in status.values():
            counts[run["status"]] = counts.get(run["status"], 0) + 1
        figures["statuses"] = counts
        figures["stuck"] = len(stuck)

        # Nothing acknowledged is lost; no run answered twice.
        lost = duplicates = resumed = 0
        for t, m, r in acknowledged:
            msgs = c.call("GET", f"/threads/{t}/messages?order=asc&limit=100")["data"]
            if not any(x["id"] == m for x in msgs):
                lost += 1
            mine = [x for x in msgs if x.get("run_id") == r and x["role"] == "assistant"]
            duplicates += sum(x["status"] == "completed" for x in mine) > 1
            resumed += any(x["status"] == "incomplete" for x in mine)
        figures["runs_resumed_after_a_death_mid_answer"] = resumed
        figures["lost"] = lost
        figures["duplicate_answers"] = duplicates
        figures["failed"] = counts.get("failed", 0)
        figures["client_retries"] = c.retries

        # With the database down: 503 with Retry-After within the pool's wait, and a
        # bounded /readyz; with it back, the same requests succeed.
        pg.stop()
        raw = httpx.Client(base_url=base, headers={"authorization": f"Bearer {KEY}"}, timeout=30)
        t0 = time.monotonic()
        down = raw.get(f"/v1/assistants/{assistant['id']}")
        figures["db_down_status"] = down.status_code
        figures["db_down_answer_s"] = round(time.monotonic() - t0, 2)
        figures["db_down_retry_after"] = down.headers.get("retry-after")
        t0 = time.monotonic()
        ready = raw.get("/readyz")
        figures["db_down_readyz"] = ready.status_code
        figures["db_down_readyz_s"] = round(time.monotonic() - t0, 2)
        pg.start()
        figures["db_back_status"] = c.call("GET", f"/assistants/{assistant['id']}") and 200
        db_ok = (
            figures["db_down_status"] == 503
            and figures["db_down_retry_after"] is not None
            and down.json()["error"]["type"] == "server_error"
            and figures["db_down_answer_s"] < 10
            and figures["db_down_readyz"] == 503
            and figures["db_down_readyz_s"] < 10
        )
        figures["db_down_handled"] = db_ok

        # Every thread is usable afterwards.
        fake.default = {"text": ["ok"]}
        unusable = 0
        for t, _, _ in acknowledged:
            r = c.call("POST", f"/threads/{t}/runs", {"assistant_id": assistant["id"]})
            for _ in range(300):
                run = c.call("GET", f"/threads/{t}/runs/{r['id']}")
                if run["status"] in FINAL:
                    break
                time.sleep(0.1)
            unusable += run["status"] != "completed"
        figures["unusable_threads"] = unusable
    finally:
        for w in workers:
            w.stop()
        server.stop()
        fake.close()
        pg.stop()

    figures["total_s"] = round(time.monotonic() - began, 1)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    bad = {k: figures.get(k) for k in ("stuck", "lost", "duplicate_answers", "failed", "unusable_threads")}
    if any(v for v in bad.values()) or not figures.get("db_down_handled"):
        print(f"faults: FAILED {bad}; logs in {root}", file=sys.stderr)
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print("faults: ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
