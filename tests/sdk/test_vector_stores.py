"""Vector stores with the official SDK: stores, files, batches (the polling
helpers), search with filters, and real documents (PDF, DOCX) from the fixtures
scripts/fetch-fixtures downloads from npm."""

from __future__ import annotations

import io
import os
from pathlib import Path

import openai
import pytest

FIXTURES = Path(os.environ.get("ASSISTD_FIXTURES", Path.home() / ".cache/assistd/fixtures"))

DOCS = {
    "otters.txt": b"Sea otters hold hands while they sleep so that they do not drift apart in the current.",
    "bees.md": b"# Bees\n\nHoneybees tell each other where flowers are with a waggle dance.\n",
    "volcano.html": b"<html><head><style>p{color:red}</style><script>var x=1;</script></head>"
    b"<body><h1>Volcanoes</h1><p>Magma that reaches the surface is called lava.</p></body></html>",
    "planets.json": b'{"planet": "Jupiter", "fact": "Jupiter has the shortest day of all planets"}',
}


def fixture(*parts: str) -> Path:
    path = FIXTURES.joinpath(*parts)
    assert path.exists(), f"{path} is missing: run scripts/fetch-fixtures"
    return path


@pytest.fixture
def store(client):
    vs = client.vector_stores.create(name="sdk docs", metadata={"suite": "sdk"})
    yield vs
    try:
        client.vector_stores.delete(vs.id)
    except openai.NotFoundError:
        pass


def test_store_lifecycle(client):
    vs = client.vector_stores.create(
        name="lifecycle", expires_after={"anchor": "last_active_at", "days": 7}, metadata={"k": "v"}
    )
    assert vs.object == "vector_store" and vs.id.startswith("vs_")
    assert vs.status == "completed" and vs.file_counts.total == 0 and vs.usage_bytes == 0
    assert vs.expires_after.days == 7 and vs.expires_at == vs.last_active_at + 7 * 86400
    got = client.vector_stores.retrieve(vs.id)
    assert got.name == "lifecycle" and got.metadata == {"k": "v"}
    changed = client.vector_stores.update(vs.id, name="renamed", expires_after=None)
    assert changed.name == "renamed" and changed.expires_after is None and changed.expires_at is None
    ids = [s.id for s in client.vector_stores.list(limit=100)]
    assert vs.id in ids
    deleted = client.vector_stores.delete(vs.id)
    assert deleted.deleted and deleted.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(vs.id)


def test_create_with_file_ids_indexes_them(client):
    files = [client.files.create(file=(n, b, "application/octet-stream"), purpose="assistants") for n, b in DOCS.items()]
    vs = client.vector_stores.create(name="with files", file_ids=[f.id for f in files])
    assert vs.file_counts.total == len(files)
    done = client.vector_stores.files.list(vector_store_id=vs.id, filter="completed")
    for _ in range(200):
        vs = client.vector_stores.retrieve(vs.id)
        if vs.file_counts.in_progress == 0:
            break
        import time

        time.sleep(0.05)
    assert vs.status == "completed" and vs.file_counts.completed == len(files), vs
    done = client.vector_stores.files.list(vector_store_id=vs.id, filter="completed")
    assert sorted(f.id for f in done) == sorted(f.id for f in files)
    client.vector_stores.delete(vs.id)


def test_upload_and_poll_and_content(client, store):
    vf = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id,
        file=("volcano.html", io.BytesIO(DOCS["volcano.html"])),
        chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}},
        attributes={"topic": "geology"},
    )
    assert vf.object == "vector_store.file" and vf.status == "completed", vf.last_error
    assert vf.chunking_strategy.type == "static" and vf.chunking_strategy.static.max_chunk_size_tokens == 100
    assert vf.attributes == {"topic": "geology"} and vf.usage_bytes > 0
    content = client.vector_stores.files.content(file_id=vf.id, vector_store_id=store.id)
    text = "".join(c.text for c in content)
    assert "Magma that reaches the surface is called lava." in text
    assert "var x" not in text and "color:red" not in text
    updated = client.vector_stores.files.update(file_id=vf.id, vector_store_id=store.id, attributes={"topic": "earth"})
    assert updated.attributes == {"topic": "earth"}
    gone = client.vector_stores.files.delete(file_id=vf.id, vector_store_id=store.id)
    assert gone.deleted and gone.object == "vector_store.file.deleted"
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0


def test_file_batch_upload_and_poll_with_real_documents(client, store):
    pdfs = sorted(p for p in fixture("pdf-parse", "test", "data").glob("*.pdf"))
    docx = fixture("mammoth", "test", "test-data", "single-paragraph.docx")
    uploads = [(p.name, p.read_bytes()) for p in pdfs] + [(docx.name, docx.read_bytes())]
    uploads += [(n, b) for n, b in DOCS.items()]
    batch = client.vector_stores.file_batches.upload_and_poll(
        vector_store_id=store.id,
        files=[(name, io.BytesIO(data)) for name, data in uploads],
    )
    assert batch.object == "vector_store.files_batch"
    counts = batch.file_counts
    assert counts.in_progress == 0 and counts.total == len(uploads)
    files = list(client.vector_stores.file_batches.list_files(batch_id=batch.id, vector_store_id=store.id, limit=100))
    assert len(files) == len(uploads)
    failed = [f for f in files if f.status == "failed"]
    # pdf-parse ships one broken PDF; everything else indexes.
    assert len(failed) == 1 and failed[0].last_error.code == "invalid_file", [f.last_error for f in failed]
    assert counts.completed == len(uploads) - 1 and counts.failed == 1
    assert batch.status == "completed"
    hits = client.vector_stores.search(store.id, query="Walking on imported air")
    assert hits.data and hits.data[0].filename == "single-paragraph.docx", [h.filename for h in hits.data]


def test_search_with_filters(client, store):
    def add(name, body, attrs):
        return client.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=(name, io.BytesIO(body)), attributes=attrs
        )

    a = add("2023.txt", b"The annual report says revenue grew in the north region.", {"year": 2023, "region": "north"})
    b = add("2024.txt", b"The annual report says revenue fell in the south region.", {"year": 2024, "region": "south"})
    c = add("draft.txt", b"A draft annual report, not yet approved.", {"year": 2024, "draft": True})

    page = client.vector_stores.search(store.id, query="annual report revenue")
    assert page.object == "vector_store.search_results.page" and page.search_query == ["annual report revenue"]
    assert {r.file_id for r in page.data} == {a.id, b.id, c.id}
    assert all(0 < r.score <= 1 for r in page.data)
    assert [r.score for r in page.data] == sorted((r.score for r in page.data), reverse=True)
    assert page.data[0].content[0].type == "text"

    def ids(filters, **kw):
        return {r.file_id for r in client.vector_stores.search(store.id, query="annual report", filters=filters, **kw).data}

    assert ids({"type": "eq", "key": "region", "value": "north"}) == {a.id}
    assert ids({"type": "gte", "key": "year", "value": 2024}) == {b.id, c.id}
    assert ids({"type": "ne", "key": "region", "value": "north"}) == {b.id, c.id}
    assert ids({"type": "in", "key": "region", "value": ["north", "south"]}) == {a.id, b.id}
    assert ids({"type": "nin", "key": "region", "value": ["north"]}) == {b.id, c.id}
    assert ids({"type": "eq", "key": "draft", "value": True}) == {c.id}
    both = {"type": "and", "filters": [{"type": "eq", "key": "year", "value": 2024}, {"type": "lt", "key": "year", "value": 2025}, {"type": "ne", "key": "draft", "value": True}]}
    assert ids(both) == {b.id}
    either = {"type": "or", "filters": [{"type": "eq", "key": "region", "value": "north"}, {"type": "eq", "key": "draft", "value": True}]}
    assert ids(either) == {a.id, c.id}
    assert len(client.vector_stores.search(store.id, query="annual report", max_num_results=1).data) == 1
    multi = client.vector_stores.search(store.id, query=["revenue north", "draft approved"])
    assert multi.search_query == ["revenue north", "draft approved"]
    assert {a.id, c.id} <= {r.file_id for r in multi.data}
    rewritten = client.vector_stores.search(store.id, query="What did the annual report say?", rewrite_query=True)
    assert rewritten.search_query == ["annual report say"]
    strict = client.vector_stores.search(store.id, query="annual report", ranking_options={"score_threshold": 1.0})
    assert all(r.score >= 1.0 for r in strict.data)


def test_errors(client, store, http):
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.create(
            chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0}},
            file_ids=["file-x"],
        )
    assert e.value.body["param"] == "chunking_strategy.static.max_chunk_size_tokens"
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.search(store.id, query="x", max_num_results=51)
    assert e.value.body["param"] == "max_num_results"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.search("vs_doesnotexist", query="x")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.create(vector_store_id=store.id, file_id="file-doesnotexist")
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.files.list(vector_store_id=store.id, filter="nope")
    assert e.value.body["param"] == "filter"
    r = http.post(f"/v1/vector_stores/{store.id}/search", json={"query": "x", "filters": {"type": "gt", "key": "k", "value": "text"}})
    assert r.status_code == 400 and r.json()["error"]["param"] == "filters.value"
    # Nothing half-written: the refused store was not created.
    assert all(s.name != "refused" for s in client.vector_stores.list(limit=100))
