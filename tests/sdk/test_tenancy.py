"""Tenant isolation, swept over the route table of the spec (not a hand list): for
every operation whose path names an object, another project's caller gets 404 for
the first project's ids and changes nothing; lists show it nothing.

Project A is the suite's default key; project B gets a key from ``assistd keys create``
on the same database, which the running server accepts at once.
"""

from __future__ import annotations

import os
import re
import subprocess

import httpx2
import pytest

from spec_validate import find_spec_path, load_responses_spec

PARAM = re.compile(r"\{([a-z_]+)\}")


def load() -> dict:
    import yaml

    return yaml.safe_load(find_spec_path().read_text())


SPEC = load()
RESPONSES_SPEC = load_responses_spec().document
# the tags of the Responses-era document whose routes assistd serves so far
SERVED_TAGS = {"Conversations", "Responses"}


def spec_operations() -> list[tuple[str, str, dict]]:
    ops = []
    for spec, served in ((SPEC, None), (RESPONSES_SPEC, SERVED_TAGS)):
        for path, item in spec["paths"].items():
            for method in ("get", "post", "delete"):
                if method not in item or not PARAM.search(path):
                    continue
                if served is not None and not served & set(item[method].get("tags", [])):
                    continue
                ops.append((method.upper(), "/v1" + path, item[method]))
    return ops


OPERATIONS = spec_operations()


@pytest.fixture(scope="module")
def other_key(server, database_url) -> str:
    cmd = [os.environ["ASSISTD_BIN"], "keys", "create", "--project", "tenancy-b"]
    cmd += ["--database-url", database_url] if database_url else ["--data-dir", str(server.data_dir)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def snapshot(http, ids: dict[str, str]) -> dict:
    """What project A sees of its objects."""
    t, r, vs = ids["thread_id"], ids["run_id"], ids["vector_store_id"]
    paths = [
        f"/v1/assistants/{ids['assistant_id']}",
        f"/v1/threads/{t}",
        f"/v1/threads/{t}/messages?order=asc",
        f"/v1/threads/{t}/runs/{r}",
        f"/v1/threads/{t}/runs/{r}/steps",
        f"/v1/files/{ids['file_id']}",
        f"/v1/vector_stores/{vs}/files",
        f"/v1/vector_stores/{vs}/file_batches/{ids['batch_id']}",
        f"/v1/conversations/{ids['conversation_id']}",
        f"/v1/conversations/{ids['conversation_id']}/items",
        f"/v1/responses/{ids['response_id']}",
        f"/v1/responses/{ids['response_id']}/input_items",
    ]
    out = {p: http.get(p).json() for p in paths}
    store = http.get(f"/v1/vector_stores/{vs}").json()
    store.pop("last_active_at", None)  # reading a store is activity
    out["store"] = store
    return out


def body_schema(op: dict) -> dict:
    """The operation's JSON body schema (through `$ref`s)."""
    schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = SPEC["components"]["schemas"].get(name) or RESPONSES_SPEC["components"]["schemas"][name]
    return schema


def minimal_body(op: dict, ids: dict[str, str]) -> dict:
    """A request body with the operation's required fields, naming A's objects where
    they reference one, so that only the path (or the reference) can refuse it."""
    values = {
        "assistant_id": ids["assistant_id"],
        "file_id": ids["file_id"],
        "file_ids": [ids["file_id"]],
        "part_ids": ["part_x"],
        "role": "user",
        "content": "x",
        "query": "secret",
        "tool_outputs": [{"tool_call_id": "call_x", "output": "x"}],
        "attributes": {"k": "v"},
        "metadata": {"k": "v"},
        "items": [{"role": "user", "content": "x"}],
    }
    schema = body_schema(op)
    required = list(schema.get("required", []))
    missing = [f for f in required if f not in values]
    assert not missing, f"no value for required fields {missing}"
    # with nothing required (but one of several, as file_ids or files), every field known
    fields = required or [f for f in schema.get("properties", {}) if f in values]
    return {f: values[f] for f in fields}


@pytest.mark.parametrize("method,path,op", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_another_projects_ids_are_not_found(server, http, other_key, seeded, method, path, op):
    url = PARAM.sub(lambda m: seeded[m.group(1)], path)
    before = snapshot(http, seeded)
    b = httpx2.Client(base_url=server.root_url, headers={"Authorization": f"Bearer {other_key}"}, timeout=30,
                      event_hooks={"response": [server.validator]})
    with b:
        if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
            r = b.request(method, url, files={"data": ("p", b"abc")})
        elif method == "POST":
            r = b.request(method, url, json=minimal_body(op, seeded))
        else:
            r = b.request(method, url)
    assert r.status_code == 404, f"{method} {url}: {r.status_code} {r.text}"
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "secret words" not in r.text
    assert snapshot(http, seeded) == before, f"{method} {url} changed project A's objects"


def test_lists_show_another_project_nothing(server, other_key, seeded):
    with httpx2.Client(base_url=server.root_url, headers={"Authorization": f"Bearer {other_key}"}, timeout=30) as b:
        for path in ("/v1/assistants", "/v1/files", "/v1/vector_stores"):
            listed = [x["id"] for x in b.get(path).json()["data"]]
            assert not set(listed) & set(seeded.values()), path
