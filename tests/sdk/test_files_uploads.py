"""client.files and client.uploads."""

from __future__ import annotations

import hashlib
import random
import time

import openai
import pytest

# -- files -----------------------------------------------------------------------


def test_upload_and_read_back(client):
    content = b"The quick brown fox jumps over the lazy dog.\n" * 10
    before = int(time.time())
    created = client.files.create(file=("fox.txt", content, "text/plain"), purpose="assistants")
    after = int(time.time())
    assert created.id.startswith("file-")
    assert created.object == "file"
    assert created.bytes == len(content)
    assert created.filename == "fox.txt"
    assert created.purpose == "assistants"
    assert created.status == "processed"
    assert created.expires_at is None
    assert before - 1 <= created.created_at <= after + 1

    assert client.files.content(created.id).read() == content

    fetched = client.files.retrieve(created.id)
    assert fetched.to_dict() == created.to_dict()


def test_binary_content_round_trips_byte_for_byte(client):
    rng = random.Random(1234)
    content = bytes(range(256)) + bytes(rng.getrandbits(8) for _ in range(70_000))
    created = client.files.create(file=("blob.bin", content, "application/octet-stream"), purpose="user_data")
    assert created.bytes == len(content)
    assert created.purpose == "user_data"
    downloaded = client.files.content(created.id).read()
    assert len(downloaded) == len(content)
    assert hashlib.sha256(downloaded).hexdigest() == hashlib.sha256(content).hexdigest()


def test_expires_after_sets_expires_at(client):
    created = client.files.create(
        file=("short-lived.txt", b"soon gone\n", "text/plain"),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert created.expires_at == created.created_at + 3600
    assert client.files.retrieve(created.id).expires_at == created.created_at + 3600


def test_list_with_purpose_filter(client, make_file):
    assistants_file = make_file(b"for assistants\n", filename="a.txt", purpose="assistants")
    user_file = client.files.create(file=("u.txt", b"for the user\n", "text/plain"), purpose="user_data")

    user_files = list(client.files.list(purpose="user_data"))
    user_ids = [f.id for f in user_files]
    assert user_file.id in user_ids
    assert assistants_file.id not in user_ids
    assert {f.purpose for f in user_files} == {"user_data"}

    assistant_ids = [f.id for f in client.files.list(purpose="assistants")]
    assert assistants_file.id in assistant_ids
    assert user_file.id not in assistant_ids

    everything = [f.id for f in client.files.list()]
    assert {assistants_file.id, user_file.id} <= set(everything)
    # newest first by default
    assert everything.index(user_file.id) < everything.index(assistants_file.id)


def test_list_files_pagination(client, make_file):
    ids = [make_file(f"page {i}\n".encode(), filename=f"p{i}.txt", purpose="assistants").id for i in range(3)]
    page = client.files.list(purpose="assistants", order="asc", after=ids[0], limit=1)
    assert [f.id for f in page.data] == [ids[1]]
    assert page.has_more is True
    assert [f.id for f in client.files.list(purpose="assistants", order="asc", after=ids[0], limit=1)] == ids[1:]


def test_delete_file(client, make_file):
    created = make_file(b"delete me\n", filename="gone.txt")
    deleted = client.files.delete(created.id)
    assert deleted.id == created.id
    assert deleted.deleted is True
    assert deleted.object == "file"
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(created.id)
    with pytest.raises(openai.NotFoundError):
        client.files.delete(created.id)
    assert created.id not in [f.id for f in client.files.list()]


# -- uploads ---------------------------------------------------------------------


def _text_blob(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"]
    out = bytearray()
    line = 0
    while len(out) < size:
        out += b"%05d " % line + b" ".join(rng.choice(words) for _ in range(8)) + b"\n"
        line += 1
    return bytes(out[:size])


def test_upload_file_chunked_helper(client, tmp_path):
    content = _text_blob(10_000, seed=7)
    path = tmp_path / "chunked.txt"
    path.write_bytes(content)

    upload = client.uploads.upload_file_chunked(
        file=path, mime_type="text/plain", purpose="assistants", part_size=4096
    )  # 3 parts: 4096 + 4096 + 1808
    assert upload.object == "upload"
    assert upload.status == "completed"
    assert upload.bytes == len(content)
    assert upload.filename == "chunked.txt"
    assert upload.purpose == "assistants"
    assert upload.file is not None
    assert upload.file.object == "file"
    assert upload.file.bytes == len(content)
    assert upload.file.filename == "chunked.txt"
    assert upload.file.purpose == "assistants"
    assert upload.file.status == "processed"

    assert client.files.content(upload.file.id).read() == content
    assert client.files.retrieve(upload.file.id).bytes == len(content)


def test_upload_parts_are_assembled_in_part_ids_order(client):
    chunks = [b"first chunk|" * 10, b"second chunk|" * 7, b"third|" * 13]
    total = sum(len(c) for c in chunks)
    upload = client.uploads.create(bytes=total, filename="ordered.txt", mime_type="text/plain", purpose="assistants")
    assert upload.id.startswith("upload_")
    assert upload.status == "pending"
    assert upload.bytes == total
    assert upload.filename == "ordered.txt"
    assert upload.purpose == "assistants"
    assert upload.file is None
    assert upload.expires_at == upload.created_at + 3600

    parts = [client.uploads.parts.create(upload.id, data=chunk) for chunk in chunks]
    for part in parts:
        assert part.object == "upload.part"
        assert part.upload_id == upload.id
        assert part.id.startswith("part_")
    assert len({p.id for p in parts}) == 3

    order = [2, 0, 1]
    completed = client.uploads.complete(upload.id, part_ids=[parts[i].id for i in order])
    assert completed.id == upload.id
    assert completed.status == "completed"
    assert completed.file is not None
    assert completed.file.bytes == total
    assert completed.file.filename == "ordered.txt"
    assert client.files.content(completed.file.id).read() == b"".join(chunks[i] for i in order)

    # a completed upload takes no more parts
    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.parts.create(upload.id, data=b"late")
    assert info.value.status_code in (400, 409)


def test_complete_with_md5(client):
    content = b"checksummed content\n" * 3
    upload = client.uploads.create(bytes=len(content), filename="md5.txt", mime_type="text/plain", purpose="assistants")
    part = client.uploads.parts.create(upload.id, data=content)
    completed = client.uploads.complete(upload.id, part_ids=[part.id], md5=hashlib.md5(content).hexdigest())
    assert completed.status == "completed"
    assert client.files.content(completed.file.id).read() == content


def test_complete_with_wrong_total_bytes_is_400(client):
    upload = client.uploads.create(bytes=100, filename="short.txt", mime_type="text/plain", purpose="assistants")
    part = client.uploads.parts.create(upload.id, data=b"x" * 60)
    with pytest.raises(openai.BadRequestError) as info:
        client.uploads.complete(upload.id, part_ids=[part.id])
    assert info.value.type == "invalid_request_error"


def test_complete_with_unknown_part_is_400(client):
    upload = client.uploads.create(bytes=4, filename="p.txt", mime_type="text/plain", purpose="assistants")
    client.uploads.parts.create(upload.id, data=b"abcd")
    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.complete(upload.id, part_ids=["part_doesnotexist"])
    assert info.value.status_code in (400, 404)


def test_cancel_upload(client):
    upload = client.uploads.create(bytes=8, filename="cancel.txt", mime_type="text/plain", purpose="assistants")
    part = client.uploads.parts.create(upload.id, data=b"abcd")
    cancelled = client.uploads.cancel(upload.id)
    assert cancelled.id == upload.id
    assert cancelled.status == "cancelled"
    assert cancelled.file is None

    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.parts.create(upload.id, data=b"efgh")
    assert info.value.status_code in (400, 409)
    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.complete(upload.id, part_ids=[part.id])
    assert info.value.status_code in (400, 409)


def test_unknown_upload_is_404(client):
    with pytest.raises(openai.NotFoundError):
        client.uploads.cancel("upload_doesnotexist")
    with pytest.raises(openai.NotFoundError):
        client.uploads.parts.create("upload_doesnotexist", data=b"x")
