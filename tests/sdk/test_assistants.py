"""client.beta.assistants: create / retrieve / update / list / delete."""

from __future__ import annotations

import time

import openai
import pytest

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["c", "f"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer", "confidence"],
    "additionalProperties": False,
}


def tool_by_type(assistant, kind):
    matches = [t for t in assistant.tools if t.type == kind]
    assert len(matches) == 1, f"expected one {kind} tool in {assistant.tools}"
    return matches[0]


@pytest.fixture
def full_assistant(client, make_file):
    code_file = make_file(b"print('hi')\n", filename="script.py")
    before = int(time.time())
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        name="Weather Bot",
        description="Answers weather questions",
        instructions="You are a weather assistant. Use the tools.",
        tools=[
            {"type": "code_interpreter"},
            {"type": "file_search", "file_search": {"max_num_results": 7}},
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "parameters": WEATHER_PARAMETERS,
                    "strict": True,
                },
            },
        ],
        tool_resources={"code_interpreter": {"file_ids": [code_file.id]}},
        metadata={"team": "sdk-suite", "case": "full"},
        temperature=0.7,
        top_p=0.9,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA, "strict": True},
        },
        reasoning_effort="low",
    )
    after = int(time.time())
    return assistant, code_file, before, after


def check_full(assistant, code_file):
    assert assistant.object == "assistant"
    assert assistant.id.startswith("asst_")
    assert assistant.model == "gpt-4o"
    assert assistant.name == "Weather Bot"
    assert assistant.description == "Answers weather questions"
    assert assistant.instructions == "You are a weather assistant. Use the tools."
    assert assistant.metadata == {"team": "sdk-suite", "case": "full"}
    assert assistant.temperature == 0.7  # exactly: stored as a double
    assert assistant.top_p == 0.9
    assert [t.type for t in assistant.tools] == ["code_interpreter", "file_search", "function"]
    assert tool_by_type(assistant, "file_search").file_search.max_num_results == 7
    function = tool_by_type(assistant, "function").function
    assert function.name == "get_weather"
    assert function.description == "Current weather for a city"
    assert function.parameters == WEATHER_PARAMETERS
    assert function.strict is True
    assert assistant.tool_resources.code_interpreter.file_ids == [code_file.id]
    rf = assistant.response_format
    assert rf.type == "json_schema"
    assert rf.json_schema.name == "answer"
    assert rf.json_schema.schema_ == ANSWER_SCHEMA
    assert rf.json_schema.strict is True
    assert assistant.to_dict().get("reasoning_effort") == "low"


def test_create_with_every_field(full_assistant):
    assistant, code_file, before, after = full_assistant
    check_full(assistant, code_file)
    assert before - 1 <= assistant.created_at <= after + 1


def test_retrieve_returns_what_create_returned(client, full_assistant):
    assistant, code_file, _, _ = full_assistant
    fetched = client.beta.assistants.retrieve(assistant.id)
    check_full(fetched, code_file)
    assert fetched.to_dict() == assistant.to_dict()


def test_defaults_when_only_model_is_given(client):
    assistant = client.beta.assistants.create(model="gpt-4o-mini")
    assert assistant.model == "gpt-4o-mini"
    assert assistant.name is None
    assert assistant.description is None
    assert assistant.instructions is None
    assert assistant.tools == []
    assert assistant.metadata == {}
    assert assistant.temperature == 1.0
    assert assistant.top_p == 1.0
    assert assistant.response_format == "auto"


def test_partial_update_changes_only_name(client, full_assistant):
    assistant, code_file, _, _ = full_assistant
    updated = client.beta.assistants.update(assistant.id, name="Renamed Bot")
    assert updated.id == assistant.id
    assert updated.name == "Renamed Bot"
    expected = assistant.to_dict()
    expected["name"] = "Renamed Bot"
    assert updated.to_dict() == expected
    # and it persisted
    assert client.beta.assistants.retrieve(assistant.id).to_dict() == expected


def test_update_several_fields(client):
    assistant = client.beta.assistants.create(model="gpt-4o", name="a", temperature=0.2, metadata={"k": "v"})
    updated = client.beta.assistants.update(
        assistant.id,
        instructions="Be brief.",
        temperature=1.3,
        metadata={"k": "v2", "extra": "x"},
        tools=[{"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}}],
    )
    assert updated.name == "a"
    assert updated.instructions == "Be brief."
    assert updated.temperature == 1.3
    assert updated.metadata == {"k": "v2", "extra": "x"}
    assert [t.function.name for t in updated.tools] == ["noop"]


def test_update_can_clear_nullable_field(client):
    assistant = client.beta.assistants.create(model="gpt-4o", description="to be removed")
    updated = client.beta.assistants.update(assistant.id, description=None)
    assert updated.description is None


def test_list_pagination(client):
    sentinel = client.beta.assistants.create(model="gpt-4o", name="sentinel")
    ids = [client.beta.assistants.create(model="gpt-4o", name=f"page-{i}").id for i in range(5)]

    # auto-pagination over pages of 2: [a0 a1] [a2 a3] [a4]
    page = client.beta.assistants.list(limit=2, order="asc", after=sentinel.id)
    assert [a.id for a in page.data] == ids[:2]
    assert page.has_more is True
    assert page.first_id == ids[0] and page.last_id == ids[1]
    pages = list(page.iter_pages())
    assert [[a.id for a in p.data] for p in pages] == [ids[0:2], ids[2:4], ids[4:5]]
    assert [p.has_more for p in pages] == [True, True, False]
    assert [a.id for a in client.beta.assistants.list(limit=2, order="asc", after=sentinel.id)] == ids

    # desc (the default): newest first
    newest = client.beta.assistants.list(limit=3)
    assert [a.id for a in newest.data] == ids[::-1][:3]
    assert newest.has_more is True

    desc = client.beta.assistants.list(limit=2, order="desc", after=ids[4])
    assert [a.id for a in desc.data] == [ids[3], ids[2]]
    assert desc.has_more is True
    tail = client.beta.assistants.list(limit=100, order="desc", after=ids[1])
    assert [a.id for a in tail.data][:2] == [ids[0], sentinel.id]

    # before = the previous page: the items right before the cursor, same order
    before_asc = client.beta.assistants.list(limit=2, order="asc", before=ids[4])
    assert [a.id for a in before_asc.data] == [ids[2], ids[3]]
    before_desc = client.beta.assistants.list(limit=10, order="desc", before=sentinel.id)
    assert [a.id for a in before_desc.data] == ids[::-1]
    assert before_desc.has_more is False

    # after the newest one there is nothing
    empty = client.beta.assistants.list(order="asc", after=ids[4])
    assert empty.data == []
    assert empty.has_more is False


def test_list_default_limit_is_20(client):
    for i in range(21):
        client.beta.assistants.create(model="gpt-4o", name=f"bulk-{i}")
    page = client.beta.assistants.list()
    assert len(page.data) == 20
    assert page.has_more is True
    created = [a.created_at for a in page.data]
    assert created == sorted(created, reverse=True)


def test_delete_then_retrieve_is_404(client):
    assistant = client.beta.assistants.create(model="gpt-4o", name="doomed")
    deleted = client.beta.assistants.delete(assistant.id)
    assert deleted.id == assistant.id
    assert deleted.deleted is True
    assert deleted.object == "assistant.deleted"
    with pytest.raises(openai.NotFoundError) as info:
        client.beta.assistants.retrieve(assistant.id)
    assert info.value.status_code == 404
    assert info.value.type == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.update(assistant.id, name="ghost")
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.delete(assistant.id)
    assert assistant.id not in [a.id for a in client.beta.assistants.list(limit=100)]


def test_request_id_on_success(client):
    assistant = client.beta.assistants.create(model="gpt-4o")
    assert assistant._request_id
    again = client.beta.assistants.retrieve(assistant.id)
    assert again._request_id and again._request_id != assistant._request_id
