"""client.beta.threads and client.beta.threads.messages."""

from __future__ import annotations

import openai
import pytest

IMAGE_URL = "https://example.com/images/cat.png"


def text_of(content_part):
    assert content_part.type == "text"
    return content_part.text.value


def as_plain(message):
    """The message's content as plain dicts, in API shape."""
    return [part.to_dict() for part in message.content]


@pytest.fixture
def thread(client):
    return client.beta.threads.create()


# -- threads -------------------------------------------------------------------


def test_create_empty_thread(client):
    thread = client.beta.threads.create()
    assert thread.id.startswith("thread_")
    assert thread.object == "thread"
    assert thread.metadata == {}
    assert client.beta.threads.messages.list(thread.id).data == []


def test_create_thread_without_body(http):
    """createThread's request body is optional (a bare POST is valid)."""
    response = http.post("/v1/threads", headers={"OpenAI-Beta": "assistants=v2"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "thread"
    assert body["id"].startswith("thread_")


def test_create_thread_with_messages(client, make_file):
    attached = make_file(b"notes for the thread\n", filename="notes.txt")
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "Summarise the attached notes.",
                "attachments": [{"file_id": attached.id, "tools": [{"type": "file_search"}]}],
                "metadata": {"n": "1"},
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Look at this picture:"},
                    {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
                ],
            },
        ],
        metadata={"project": "sdk-suite", "kind": "seeded"},
    )
    assert thread.metadata == {"project": "sdk-suite", "kind": "seeded"}

    messages = client.beta.threads.messages.list(thread.id, order="asc")
    assert len(messages.data) == 2
    first, second = messages.data

    assert first.thread_id == thread.id
    assert first.role == "user"
    assert as_plain(first) == [{"type": "text", "text": {"value": "Summarise the attached notes.", "annotations": []}}]
    assert [a.to_dict() for a in first.attachments] == [{"file_id": attached.id, "tools": [{"type": "file_search"}]}]
    assert first.metadata == {"n": "1"}
    assert first.run_id is None and first.assistant_id is None

    assert second.role == "assistant"
    assert as_plain(second) == [
        {"type": "text", "text": {"value": "Look at this picture:", "annotations": []}},
        {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
    ]
    assert second.attachments == []
    assert second.metadata == {}
    assert first.created_at <= second.created_at

    # desc (the default) gives them newest first
    assert [m.id for m in client.beta.threads.messages.list(thread.id).data] == [second.id, first.id]


def test_retrieve_and_update_thread(client):
    thread = client.beta.threads.create(metadata={"a": "1"})
    fetched = client.beta.threads.retrieve(thread.id)
    assert fetched.id == thread.id
    assert fetched.created_at == thread.created_at
    assert fetched.metadata == {"a": "1"}

    updated = client.beta.threads.update(thread.id, metadata={"a": "2", "b": "3"})
    assert updated.id == thread.id
    assert updated.metadata == {"a": "2", "b": "3"}
    assert client.beta.threads.retrieve(thread.id).metadata == {"a": "2", "b": "3"}


def test_delete_thread_removes_it_and_its_messages(client):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "bye"}])
    message_id = client.beta.threads.messages.list(thread.id).data[0].id

    deleted = client.beta.threads.delete(thread.id)
    assert deleted.id == thread.id
    assert deleted.deleted is True
    assert deleted.object == "thread.deleted"

    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.list(thread.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(message_id, thread_id=thread.id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.create(thread.id, role="user", content="anyone?")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.update(thread.id, metadata={"x": "y"})
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.delete(thread.id)


# -- messages ------------------------------------------------------------------


def test_create_message_with_string_content(client, thread):
    message = client.beta.threads.messages.create(thread.id, role="user", content="How does AI work?")
    assert message.id.startswith("msg_")
    assert message.object == "thread.message"
    assert message.thread_id == thread.id
    assert message.role == "user"
    assert message.status == "completed"
    assert as_plain(message) == [{"type": "text", "text": {"value": "How does AI work?", "annotations": []}}]
    assert message.attachments == []
    assert message.metadata == {}
    assert message.assistant_id is None
    assert message.run_id is None
    assert message.incomplete_details is None


def test_create_message_with_parts_attachments_and_metadata(client, thread, make_file):
    data_file = make_file(b"a,b\n1,2\n", filename="table.csv")
    message = client.beta.threads.messages.create(
        thread.id,
        role="user",
        content=[
            {"type": "text", "text": "Plot this"},
            {"type": "image_url", "image_url": {"url": IMAGE_URL}},
        ],
        attachments=[{"file_id": data_file.id, "tools": [{"type": "code_interpreter"}]}],
        metadata={"source": "test"},
    )
    assert as_plain(message)[0] == {"type": "text", "text": {"value": "Plot this", "annotations": []}}
    image = message.content[1]
    assert image.type == "image_url"
    assert image.image_url.url == IMAGE_URL
    assert image.image_url.detail in (None, "auto")
    assert [a.to_dict() for a in message.attachments] == [{"file_id": data_file.id, "tools": [{"type": "code_interpreter"}]}]
    assert message.metadata == {"source": "test"}

    fetched = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert fetched.to_dict() == message.to_dict()


def test_list_messages_order_and_cursors(client, thread):
    ids = [
        client.beta.threads.messages.create(thread.id, role="user", content=f"message {i}").id
        for i in range(4)
    ]
    m = client.beta.threads.messages

    asc = m.list(thread.id, order="asc")
    assert [x.id for x in asc.data] == ids
    assert [text_of(x.content[0]) for x in asc.data] == [f"message {i}" for i in range(4)]
    assert asc.has_more is False
    assert [x.id for x in m.list(thread.id, order="desc").data] == ids[::-1]
    assert [x.id for x in m.list(thread.id).data] == ids[::-1]

    first_two = m.list(thread.id, order="asc", limit=2)
    assert [x.id for x in first_two.data] == ids[:2]
    assert first_two.has_more is True

    assert [x.id for x in m.list(thread.id, order="asc", after=ids[1]).data] == ids[2:]
    assert [x.id for x in m.list(thread.id, order="asc", before=ids[2]).data] == ids[:2]
    assert [x.id for x in m.list(thread.id, order="desc", after=ids[2]).data] == [ids[1], ids[0]]
    assert [x.id for x in m.list(thread.id, order="desc", before=ids[1]).data] == [ids[3], ids[2]]
    assert [x.id for x in m.list(thread.id, order="asc", after=ids[0], limit=1).data] == [ids[1]]

    # the SDK's auto-pagination walks every page with after=<last id>
    assert [x.id for x in m.list(thread.id, order="asc", limit=1)] == ids


def test_list_messages_run_id_filter_unknown_run_is_empty(client, thread):
    client.beta.threads.messages.create(thread.id, role="user", content="not from a run")
    page = client.beta.threads.messages.list(thread.id, run_id="run_doesnotexist")
    assert page.data == []
    assert page.has_more is False


def test_update_message_metadata(client, thread):
    message = client.beta.threads.messages.create(thread.id, role="user", content="tag me", metadata={"a": "1"})
    updated = client.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"a": "1", "b": "2"})
    assert updated.id == message.id
    assert updated.metadata == {"a": "1", "b": "2"}
    assert as_plain(updated) == as_plain(message)
    fetched = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert fetched.metadata == {"a": "1", "b": "2"}


def test_delete_message(client, thread):
    keep = client.beta.threads.messages.create(thread.id, role="user", content="keep")
    drop = client.beta.threads.messages.create(thread.id, role="user", content="drop")
    deleted = client.beta.threads.messages.delete(drop.id, thread_id=thread.id)
    assert deleted.id == drop.id
    assert deleted.deleted is True
    assert deleted.object == "thread.message.deleted"
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(drop.id, thread_id=thread.id)
    assert [m.id for m in client.beta.threads.messages.list(thread.id).data] == [keep.id]


def test_message_of_another_thread_is_404(client):
    one = client.beta.threads.create()
    two = client.beta.threads.create()
    message = client.beta.threads.messages.create(one.id, role="user", content="mine")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(message.id, thread_id=two.id)
