"""client.conversations and client.conversations.items: create (with items and
metadata) / retrieve / update / delete; items create / list / retrieve / delete,
pagination and include. Every body is validated against
docs/spec/responses-openapi.yaml by the client's hook."""

from __future__ import annotations

import time

import openai
import pytest


def test_conversation_lifecycle(client):
    before = int(time.time())
    conv = client.conversations.create(
        metadata={"topic": "demo"},
        items=[{"type": "message", "role": "user", "content": "Hello!"}],
    )
    assert conv.id.startswith("conv_")
    assert conv.object == "conversation"
    assert conv.metadata == {"topic": "demo"}
    assert conv.created_at >= before

    got = client.conversations.retrieve(conv.id)
    assert (got.id, got.metadata) == (conv.id, {"topic": "demo"})

    updated = client.conversations.update(conv.id, metadata={"topic": "other", "k": "v"})
    assert updated.metadata == {"topic": "other", "k": "v"}
    assert client.conversations.retrieve(conv.id).metadata == {"topic": "other", "k": "v"}

    items = client.conversations.items.list(conv.id)
    assert len(items.data) == 1
    first = items.data[0]
    assert first.type == "message" and first.role == "user" and first.status == "completed"
    assert first.id.startswith("msg_")
    assert first.content[0].type == "input_text" and first.content[0].text == "Hello!"

    deleted = client.conversations.delete(conv.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (conv.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conv.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conv.id)


def test_items_create_list_retrieve_delete(client):
    conv = client.conversations.create()
    assert conv.metadata == {}
    added = client.conversations.items.create(
        conv.id,
        items=[
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "How are you?"}]},
            {"type": "message", "role": "assistant", "content": "Fine."},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 3}'},
        ],
    )
    assert [i.type for i in added.data] == ["message", "message", "function_call", "function_call_output"]
    assert added.first_id == added.data[0].id and added.last_id == added.data[-1].id
    assert added.data[1].content[0].type == "output_text" and added.data[1].content[0].text == "Fine."
    assert added.data[2].id.startswith("fc_") and added.data[2].name == "get_weather"
    assert added.data[3].output == '{"temp": 3}'

    # default order is newest first; asc gives insertion order
    desc = client.conversations.items.list(conv.id)
    assert [i.id for i in desc.data] == [i.id for i in reversed(added.data)]
    asc = client.conversations.items.list(conv.id, order="asc", limit=2)
    assert [i.id for i in asc.data] == [i.id for i in added.data[:2]] and asc.has_more
    rest = client.conversations.items.list(conv.id, order="asc", after=asc.data[-1].id)
    assert [i.id for i in rest.data] == [i.id for i in added.data[2:]] and not rest.has_more
    # the SDK's auto-pagination walks every page
    assert [i.id for i in client.conversations.items.list(conv.id, order="asc", limit=1)] == [
        i.id for i in added.data
    ]

    one = client.conversations.items.retrieve(added.data[2].id, conversation_id=conv.id)
    assert one.type == "function_call" and one.call_id == "call_1"

    after_delete = client.conversations.items.delete(added.data[0].id, conversation_id=conv.id)
    assert after_delete.id == conv.id and after_delete.object == "conversation"
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(added.data[0].id, conversation_id=conv.id)
    assert len(client.conversations.items.list(conv.id).data) == 3


def test_include_shows_tool_results(client):
    conv = client.conversations.create(
        items=[
            {
                "type": "file_search_call",
                "id": "fs_given",
                "status": "completed",
                "queries": ["refund policy"],
                "results": [{"file_id": "file-1", "filename": "policy.txt", "score": 0.8, "text": "30 days"}],
            }
        ]
    )
    plain = client.conversations.items.list(conv.id)
    assert plain.data[0].type == "file_search_call" and plain.data[0].results is None
    shown = client.conversations.items.list(conv.id, include=["file_search_call.results"])
    assert shown.data[0].results[0].text == "30 days"
    one = client.conversations.items.retrieve(
        plain.data[0].id, conversation_id=conv.id, include=["file_search_call.results"]
    )
    assert one.results[0].filename == "policy.txt"


def test_bad_input_is_a_clear_400_and_adds_nothing(client):
    conv = client.conversations.create(items=[{"role": "user", "content": "one"}])
    cases = [
        ([{"role": "robot", "content": "x"}], "items[0].role"),
        ([{"role": "user", "content": [{"type": "input_image"}]}], "items[0].content[0].image_url"),
        ([{"type": "web_search_call", "id": "ws_1", "status": "completed"}], "items[0]"),
        ([{"role": "user", "content": "x"}] * 21, "items"),
    ]
    for items, param in cases:
        with pytest.raises(openai.BadRequestError) as e:
            client.conversations.items.create(conv.id, items=items)
        assert e.value.body["param"] == param, e.value.body
        assert e.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as e:
        client.conversations.items.list(conv.id, include=["bogus"])
    assert e.value.body["param"] == "include[0]"
    with pytest.raises(openai.BadRequestError) as e:
        client.conversations.update(conv.id, metadata={f"k{i}": "v" for i in range(17)})
    assert e.value.body["param"] == "metadata"
    assert len(client.conversations.items.list(conv.id).data) == 1
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.create("conv_missing", items=[{"role": "user", "content": "x"}])
