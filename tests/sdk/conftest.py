"""Fixtures for the SDK suite: one assistd server per test session.

Contract with the binary (DESIGN.md §8):

* ``$ASSISTD_BIN serve --listen 127.0.0.1:0 --data-dir <tmp>`` with
  ``ASSISTD_API_KEYS=sk-test-key-1`` (every other inherited ``ASSISTD_*``
  variable is removed from its environment);
* with ``ASSISTD_TEST_DATABASE_URL=postgres://…`` set, a fresh database
  ``assistd_sdk_<random>`` is created with ``psql`` and passed as
  ``ASSISTD_DATABASE_URL``, and dropped afterwards; otherwise the server uses
  its default SQLite file in the data dir;
* once it accepts connections the server prints exactly one stdout line,
  ``assistd listening on 127.0.0.1:<port>``; logs go to stderr, which is
  written to ``<tmp>/stderr.log`` (``<tmp>/data`` is the data dir);
* at the end of the session it gets SIGTERM, and SIGKILL 10 s later.

With ``ASSISTD_SDK_SPLIT=1`` (PostgreSQL only: the processes share its database)
the server is the split shape instead: ``assistd serve --only <service>`` for each
of the eight services (the sandbox too), each given the upstreams it calls, and ``assistd gateway``
in front of them, which the clients talk to.

Every response under /v1 that the ``client`` and ``http`` fixtures receive is
checked by ``spec_validate.ResponseValidator`` (schema, x-request-id).
"""

from __future__ import annotations

import atexit
import io
import os
import queue
import re
import secrets
import shlex
import signal
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import openai
import pytest

from fake_llm import FakeLLM
from spec_validate import ResponseValidator

API_KEY = "sk-test-key-1"
STARTUP_TIMEOUT_S = 60
SHUTDOWN_GRACE_S = 10
LISTENING_RE = re.compile(r"^assistd listening on (127\.0\.0\.1:\d+)$")


@dataclass
class Server:
    process: subprocess.Popen
    root_url: str  # http://127.0.0.1:<port>
    base_url: str  # http://127.0.0.1:<port>/v1
    data_dir: Path
    stderr_path: Path
    validator: ResponseValidator
    stdout_lines: list[str] = field(default_factory=list)

    def stderr_tail(self, lines: int = 60) -> str:
        return _tail(self.stderr_path, lines)


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# PostgreSQL: one throw-away database per session
# --------------------------------------------------------------------------


def _psql(url: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def database_url():
    """ASSISTD_DATABASE_URL for the server, or None for the default SQLite."""
    admin_url = os.environ.get("ASSISTD_TEST_DATABASE_URL")
    if not admin_url:
        yield None
        return
    scheme = urllib.parse.urlsplit(admin_url).scheme
    if scheme not in ("postgres", "postgresql"):
        pytest.fail(
            f"ASSISTD_TEST_DATABASE_URL must be a postgres:// URL, got scheme {scheme!r}",
            pytrace=False,
        )
    name = f"assistd_sdk_{secrets.token_hex(6)}"
    created = _psql(admin_url, f'CREATE DATABASE "{name}"')
    if created.returncode != 0:
        pytest.fail(
            f"cannot create database {name} with psql at ASSISTD_TEST_DATABASE_URL: {created.stderr.strip()}",
            pytrace=False,
        )
    try:
        yield _with_database(admin_url, name)
    finally:
        dropped = _psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if dropped.returncode != 0:
            dropped = _psql(admin_url, f'DROP DATABASE IF EXISTS "{name}"')
        if dropped.returncode != 0:
            print(f"warning: could not drop database {name}: {dropped.stderr.strip()}")


# --------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_llm():
    """The scripted fake chat backend the server's runs call (see fake_llm.py)."""
    fake = FakeLLM()
    yield fake
    fake.close()


@pytest.fixture
def llm(fake_llm):
    """The fake backend, emptied of leftover script and requests for this test."""
    fake_llm.reset()
    yield fake_llm
    fake_llm.reset()


# code_interpreter's wall time per cell in these tests (the server's default is 30 s).
SANDBOX_TIMEOUT_S = 8


@pytest.fixture(scope="session")
def server_extra_env(fake_llm) -> dict[str, str]:
    """Extra environment for the server: the fake model backend, the embedded
    embedding model when scripts/test installed it (hybrid search), and a shorter
    wall time for code_interpreter's cells (the timeout test waits it out)."""
    env = {"ASSISTD_LLM_BASE_URL": fake_llm.base_url, "ASSISTD_SANDBOX_TIMEOUT": str(SANDBOX_TIMEOUT_S)}
    if os.environ.get("ASSISTD_EMBEDDED_EMBEDDER"):
        env["ASSISTD_EMBEDDED_EMBEDDER"] = os.environ["ASSISTD_EMBEDDED_EMBEDDER"]
    return env


def _server_env(database_url: str | None, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTD_")}
    env["ASSISTD_API_KEYS"] = API_KEY
    if database_url:
        env["ASSISTD_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def _stop(process: subprocess.Popen) -> int | None:
    if process.poll() is not None:
        return process.returncode
    try:
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=SHUTDOWN_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout=SHUTDOWN_GRACE_S)
    except ProcessLookupError:
        return process.poll()


# The split shape: each service in its own process, with the upstreams it calls.
SPLIT_SERVICES = [
    ("sandbox", []),
    ("files", []),
    ("vector_stores", ["files"]),
    ("assistants", ["files", "vector_stores"]),
    ("threads", ["files", "vector_stores"]),
    ("runs", ["assistants", "threads", "vector_stores", "files", "sandbox"]),
    ("conversations", []),
    ("responses", ["conversations", "vector_stores", "files", "sandbox"]),
]
# What the gateway reaches (the sandbox serves the runs service only).
GATEWAY_UPSTREAMS = ["files", "vector_stores", "assistants", "threads", "runs", "conversations", "responses"]


def _upstream_args(urls: dict[str, str], names) -> list[str]:
    return [arg for n in names for arg in ("--upstream", f"{n}={urls[n]}")]


def _start_split_services(binary: str, env: dict[str, str], tmp_dir: Path) -> tuple[list, dict[str, str]]:
    """Starts the eight services of the split shape; their processes and URLs."""
    processes, urls = [], {}
    for name, needs in SPLIT_SERVICES:
        data_dir = tmp_dir / f"data-{name}"
        data_dir.mkdir()
        command = [binary, "serve", "--only", name, "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
        command += _upstream_args(urls, needs)
        log = tmp_dir / f"stderr-{name}.log"
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=open(log, "wb"), env=env
        )
        atexit.register(_stop, process)
        processes.append(process)
        lines: "queue.Queue[str | None]" = queue.Queue()
        threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
        address = None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while address is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            match = LISTENING_RE.match(line.strip())
            address = match.group(1) if match else None
        if address is None:
            for p in processes:
                _stop(p)
            pytest.fail(f"assistd serve --only {name} did not start; stderr tail:\n{_tail(log)}", pytrace=False)
        urls[name] = f"http://{address}"
    return processes, urls


def _read_lines(stream, sink: "queue.Queue[str | None]") -> None:
    for raw in iter(stream.readline, b""):
        sink.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
    sink.put(None)


@pytest.fixture(scope="session")
def server(tmp_path_factory, database_url, server_extra_env) -> Server:
    binary = os.environ.get("ASSISTD_BIN")
    if not binary:
        pytest.fail(
            "ASSISTD_BIN is not set: point it at the built assistd binary "
            "(e.g. ASSISTD_BIN=target/debug/assistd)",
            pytrace=False,
        )
    binary_path = Path(binary)
    if not (binary_path.is_file() and os.access(binary_path, os.X_OK)):
        pytest.fail(f"ASSISTD_BIN={binary} is not an executable file", pytrace=False)

    tmp_dir = tmp_path_factory.mktemp("assistd")
    data_dir = tmp_dir / "data"
    data_dir.mkdir()
    stderr_path = tmp_dir / "stderr.log"
    command = [str(binary_path), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
    env = _server_env(database_url, server_extra_env)
    split_services: list[subprocess.Popen] = []
    if os.environ.get("ASSISTD_SDK_SPLIT") == "1":
        if not database_url:
            pytest.fail("ASSISTD_SDK_SPLIT=1 needs ASSISTD_TEST_DATABASE_URL (the services share one database)", pytrace=False)
        split_services, urls = _start_split_services(str(binary_path), env, tmp_dir)
        command = [str(binary_path), "gateway", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
        command += _upstream_args(urls, GATEWAY_UPSTREAMS)

    stderr_file = open(stderr_path, "wb")
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        env=env,
    )
    atexit.register(_stop, process)  # in case the session dies before teardown

    lines: "queue.Queue[str | None]" = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True)
    reader.start()

    stdout_seen: list[str] = []
    address = None
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while address is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            continue
        if line is None:  # stdout closed: the process is exiting
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            break
        stdout_seen.append(line)
        match = LISTENING_RE.match(line.strip())
        if match:
            address = match.group(1)

    if address is None:
        exited = process.poll()
        code = _stop(process)
        stderr_file.close()
        why = (
            f"exited with status {code} before printing 'assistd listening on 127.0.0.1:<port>'"
            if exited is not None
            else f"did not print 'assistd listening on 127.0.0.1:<port>' within {STARTUP_TIMEOUT_S} s"
        )
        pytest.fail(
            f"assistd {why}.\ncommand: {shlex.join(command)}\n"
            f"stdout:\n{chr(10).join(stdout_seen) or '<empty>'}\n"
            f"stderr tail ({stderr_path}):\n{_tail(stderr_path)}",
            pytrace=False,
        )

    root_url = f"http://{address}"
    srv = Server(
        process=process,
        root_url=root_url,
        base_url=root_url + "/v1",
        data_dir=data_dir,
        stderr_path=stderr_path,
        validator=ResponseValidator("/v1"),
        stdout_lines=stdout_seen,
    )
    try:
        yield srv
    finally:
        code = _stop(process)
        for service in split_services:
            _stop(service)
        stderr_file.close()
        reader.join(timeout=2)
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                srv.stdout_lines.append(line)
        if len(srv.stdout_lines) != 1:
            print(
                f"warning: assistd printed {len(srv.stdout_lines)} stdout lines (expected exactly one):\n"
                + "\n".join(srv.stdout_lines[:20])
            )
        if code not in (0, -signal.SIGTERM):
            print(f"warning: assistd exited with status {code} on SIGTERM; stderr tail:\n{srv.stderr_tail()}")


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------


def make_client(server: Server, api_key: str = API_KEY) -> openai.OpenAI:
    """An SDK client as a user would build it, plus the spec-validating hook."""
    return openai.OpenAI(
        base_url=server.base_url,
        api_key=api_key,
        max_retries=0,
        timeout=30,
        http_client=httpx2.Client(event_hooks={"response": [server.validator]}, timeout=30),
    )


@pytest.fixture(scope="session")
def client(server) -> openai.OpenAI:
    sdk = make_client(server)
    yield sdk
    sdk.close()


@pytest.fixture(scope="session")
def client_factory(server):
    """`client_factory(api_key=...)`: more SDK clients (closed at session end)."""
    made: list[openai.OpenAI] = []

    def factory(api_key: str = API_KEY) -> openai.OpenAI:
        sdk = make_client(server, api_key)
        made.append(sdk)
        return sdk

    yield factory
    for sdk in made:
        sdk.close()


@pytest.fixture(scope="session")
def anon_http(server) -> httpx2.Client:
    """Raw HTTP without an Authorization header, same validating hook."""
    with httpx2.Client(base_url=server.root_url, event_hooks={"response": [server.validator]}, timeout=30) as raw:
        yield raw


@pytest.fixture(scope="session")
def http(server) -> httpx2.Client:
    """Raw HTTP against the server root (paths start with /v1), with the key
    and the same validating hook."""
    with httpx2.Client(
        base_url=server.root_url,
        headers={"Authorization": f"Bearer {API_KEY}"},
        event_hooks={"response": [server.validator]},
        timeout=30,
    ) as raw:
        yield raw


@pytest.fixture
def make_file(client):
    """Upload a file with the SDK; returns the FileObject."""

    def upload(content: bytes = b"hello from the sdk suite\n", filename: str = "note.txt", purpose: str = "assistants", **kwargs):
        return client.files.create(file=(filename, content, "text/plain"), purpose=purpose, **kwargs)

    return upload


@pytest.fixture(scope="session")
def seeded(http) -> dict[str, str]:
    """One object of every kind (in the default project), by the path parameter that
    names it: a file indexed in a vector store, a file batch, an assistant, a thread
    with a message, a finished run and its step, a pending upload, a conversation
    with an item, a response."""

    def ok(r: httpx2.Response) -> dict:
        assert r.status_code == 200, r.text
        return r.json()

    f = ok(http.post("/v1/files", files={"file": ("a.txt", b"project A's secret words"), "purpose": (None, "assistants")}))
    vs = ok(http.post("/v1/vector_stores", json={"name": "A", "file_ids": [f["id"]]}))
    deadline = time.monotonic() + 60
    while ok(http.get(f"/v1/vector_stores/{vs['id']}"))["file_counts"]["completed"] != 1:
        assert time.monotonic() < deadline, "file not indexed"
        time.sleep(0.1)
    batch = ok(http.post(f"/v1/vector_stores/{vs['id']}/file_batches", json={"file_ids": [f["id"]]}))
    a = ok(http.post("/v1/assistants", json={"model": "gpt-4o", "name": "A"}))
    t = ok(http.post("/v1/threads", json={"messages": [{"role": "user", "content": "hi"}]}))
    run = ok(http.post(f"/v1/threads/{t['id']}/runs", json={"assistant_id": a["id"]}))
    while run["status"] in ("queued", "in_progress"):
        assert time.monotonic() < deadline, run
        time.sleep(0.05)
        run = ok(http.get(f"/v1/threads/{t['id']}/runs/{run['id']}"))
    steps = ok(http.get(f"/v1/threads/{t['id']}/runs/{run['id']}/steps"))["data"]
    msgs = ok(http.get(f"/v1/threads/{t['id']}/messages"))["data"]
    upload = ok(http.post("/v1/uploads", json={"filename": "u.txt", "purpose": "assistants", "bytes": 3, "mime_type": "text/plain"}))
    conv = ok(http.post("/v1/conversations", json={"items": [{"role": "user", "content": "project A's secret words"}]}))
    conv_items = ok(http.get(f"/v1/conversations/{conv['id']}/items"))["data"]
    resp = ok(http.post("/v1/responses", json={"model": "gpt-4o", "input": "project A's secret words"}))
    return {
        "response_id": resp["id"],
        "conversation_id": conv["id"],
        "item_id": conv_items[0]["id"],
        "assistant_id": a["id"],
        "thread_id": t["id"],
        "message_id": msgs[0]["id"],
        "run_id": run["id"],
        "step_id": steps[0]["id"],
        "file_id": f["id"],
        "vector_store_id": vs["id"],
        "batch_id": batch["id"],
        "upload_id": upload["id"],
    }


@pytest.fixture
def docs_store(client):
    """A vector store of two indexed files (a handbook, a canteen note), made with the
    Assistants-era API; the file_search tests of runs and of responses search it."""
    vs = client.vector_stores.create(name="handbook")
    client.vector_stores.files.upload_and_poll(
        vector_store_id=vs.id,
        file=("handbook.md", io.BytesIO(b"# Leave\n\nEvery employee gets 30 days of paid leave per year.\n")),
    )
    client.vector_stores.files.upload_and_poll(
        vector_store_id=vs.id,
        file=("canteen.txt", io.BytesIO(b"The canteen serves lunch from noon until two.")),
    )
    yield vs
    client.vector_stores.delete(vs.id)
