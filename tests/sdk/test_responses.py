"""client.responses: create, stream (event handlers, get_final_response), parse with a
pydantic model, function tools round trip, previous_response_id chains, a conversation
across three responses, store: false, retrieve / delete / input_items, and the errors
a user meets. Every JSON body is validated against docs/spec/responses-openapi.yaml by
the client's hook; raw stream events against `ResponseStreamEvent`. The fake backend
records what the model was sent."""

from __future__ import annotations

import io
import json
import time

import openai
import pydantic
import pytest

from spec_validate import validate_response_event
from test_runs import sse_events

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def roles(request: dict) -> list[tuple[str, object]]:
    return [(m["role"], m.get("content")) for m in request["messages"]]


def test_create_with_a_string_and_instructions(client, llm):
    llm.script({"text": ["Hello", " there."]})
    r = client.responses.create(model="gpt-4o", input="Hi!", instructions="Be brief.", metadata={"k": "v"})
    assert r.id.startswith("resp_") and r.object == "response"
    assert r.status == "completed" and r.error is None and r.incomplete_details is None
    assert r.output_text == "Hello there."
    msg = r.output[0]
    assert msg.type == "message" and msg.role == "assistant" and msg.status == "completed"
    assert msg.id.startswith("msg_") and msg.content[0].annotations == []
    assert r.usage.input_tokens == 10 and r.usage.output_tokens == 2 and r.usage.total_tokens == 12
    assert r.metadata == {"k": "v"} and r.instructions == "Be brief."
    assert r.store is True and r.tool_choice == "auto" and r.tools == []
    assert roles(llm.last_request()) == [("system", "Be brief."), ("user", "Hi!")]

    got = client.responses.retrieve(r.id)
    assert got.output_text == "Hello there." and got.status == "completed"
    items = client.responses.input_items.list(r.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].content[0].text == "Hi!"


def test_stream_with_event_handlers(client, llm):
    llm.script({"text": ["Stream", "ing ", "works."]})
    deltas = []
    with client.responses.stream(model="gpt-4o", input="Stream please") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert deltas == ["Stream", "ing ", "works."]
    assert final.output_text == "Streaming works." and final.status == "completed"
    assert client.responses.retrieve(final.id).output_text == "Streaming works."


def test_raw_stream_events_match_the_spec(http, llm):
    llm.script({"text": ["Fine", "."]})
    with http.stream("POST", "/v1/responses", json={"model": "m", "input": "How?", "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    names = [e for e, _ in events]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    datas = [json.loads(d) for _, d in events]
    for name, data in zip(names, datas):
        validate_response_event(name, data)
    assert [d["sequence_number"] for d in datas] == list(range(len(datas)))
    assert datas[0]["response"]["status"] == "in_progress"
    assert datas[-1]["response"]["output"][0]["content"][0]["text"] == "Fine."


def test_function_call_round_trip(client, llm):
    llm.script(
        {"tool_calls": [{"id": "call_w", "name": "get_weather", "arguments": ['{"city"', ':"Oslo"}']}]},
        {"text": ["3 degrees in Oslo."]},
    )
    r = client.responses.create(model="gpt-4o", input="Weather in Oslo?", tools=[WEATHER])
    call = r.output[0]
    assert call.type == "function_call" and call.name == "get_weather" and call.call_id == "call_w"
    assert json.loads(call.arguments) == {"city": "Oslo"} and call.id.startswith("fc_")
    sent = llm.last_request()
    assert sent["tools"][0]["function"]["name"] == "get_weather" and sent["tools"][0]["function"]["strict"] is True
    assert r.tools[0].name == "get_weather" and r.tools[0].strict is True

    r2 = client.responses.create(
        model="gpt-4o",
        previous_response_id=r.id,
        input=[{"type": "function_call_output", "call_id": "call_w", "output": '{"temp": 3}'}],
        tools=[WEATHER],
    )
    assert r2.output_text == "3 degrees in Oslo."
    messages = llm.last_request()["messages"]
    assert messages[0] == {"role": "user", "content": "Weather in Oslo?"}
    assert messages[1]["tool_calls"][0]["id"] == "call_w"
    assert messages[2] == {"role": "tool", "tool_call_id": "call_w", "content": '{"temp": 3}'}


def test_previous_response_chain(client, llm):
    llm.script({"text": ["Nice to meet you, Ada."]}, {"text": ["You are Ada."]})
    r1 = client.responses.create(model="gpt-4o", input="I am Ada.", instructions="First instructions.")
    r2 = client.responses.create(model="gpt-4o", input="Who am I?", previous_response_id=r1.id)
    assert r2.previous_response_id == r1.id and r2.output_text == "You are Ada."
    # the chain's input and output are the context; earlier instructions are not
    assert roles(llm.last_request()) == [
        ("user", "I am Ada."),
        ("assistant", "Nice to meet you, Ada."),
        ("user", "Who am I?"),
    ]
    with pytest.raises(openai.NotFoundError) as e:
        client.responses.create(model="gpt-4o", input="x", previous_response_id="resp_missing")
    assert e.value.body["code"] == "previous_response_not_found"
    assert e.value.body["param"] == "previous_response_id"


def test_conversation_across_three_responses(client, llm):
    llm.script({"text": ["One."]}, {"text": ["Two."]}, {"text": ["Three."]})
    conv = client.conversations.create(items=[{"role": "developer", "content": "Count."}])
    for word in ("Go", "Again", "More"):
        r = client.responses.create(model="gpt-4o", input=word, conversation=conv.id)
        assert r.conversation.id == conv.id
    assert roles(llm.last_request()) == [
        ("system", "Count."),
        ("user", "Go"),
        ("assistant", "One."),
        ("user", "Again"),
        ("assistant", "Two."),
        ("user", "More"),
    ]
    items = client.conversations.items.list(conv.id, order="asc")
    assert [(i.type, getattr(i, "role", None)) for i in items.data] == [
        ("message", "developer"),
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    # the output items keep their ids in the conversation
    assert items.data[-1].id == r.output[0].id
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt-4o", input="x", conversation=conv.id, previous_response_id=r.id)
    assert e.value.body["param"] == "conversation"


class Answer(pydantic.BaseModel):
    answer: str
    confidence: float


def test_parse_with_a_pydantic_model(client, llm):
    llm.script({"text": ['{"answer": "42", ', '"confidence": 0.9}']})
    r = client.responses.parse(model="gpt-4o", input="The answer?", text_format=Answer)
    assert r.output_parsed == Answer(answer="42", confidence=0.9)
    fmt = llm.last_request()["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["answer", "confidence"]
    assert r.text.format.type == "json_schema"


def test_store_false_and_max_output_tokens(client, llm):
    llm.script({"text": ["kept nowhere"]}, {"text": ["Once upon"], "finish": "length"})
    r = client.responses.create(model="gpt-4o", input="x", store=False)
    assert r.store is False and r.output_text == "kept nowhere"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    r = client.responses.create(model="gpt-4o", input="A story", max_output_tokens=16)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert llm.last_request()["max_tokens"] == 16


def test_delete_and_errors(client, llm):
    r = client.responses.create(model="gpt-4o", input="bye")
    client.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(r.id)
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt-4o", input="x", tools=[{"type": "web_search"}])
    assert e.value.body["param"] == "tools[0].type" and "web_search" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt-4o", input="x", temperature=3)
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(model="gpt-4o", input=[{"role": "user", "content": "x", "bogus": 1}])
    assert e.value.body["param"] == "input[0].bogus"
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(input="no model")  # type: ignore[call-arg]
    assert e.value.body["param"] == "model"


def wait_done(client, response_id: str):
    for _ in range(400):
        r = client.responses.retrieve(response_id)
        if r.status not in ("queued", "in_progress"):
            return r
        time.sleep(0.05)
    raise AssertionError(f"{response_id} did not end")


def test_background_with_polling_and_replay(client, llm):
    llm.script({"text": ["Back", "ground."]})
    r = client.responses.create(model="gpt-4o", input="Work on it.", background=True)
    assert r.background is True and r.status in ("queued", "in_progress")
    done = wait_done(client, r.id)
    assert done.status == "completed" and done.output_text == "Background."

    # the whole stream again, then only what came after sequence number 3
    events = list(client.responses.retrieve(r.id, stream=True))
    assert [e.type for e in events[:3]] == ["response.created", "response.queued", "response.in_progress"]
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    tail = list(client.responses.retrieve(r.id, stream=True, starting_after=3))
    assert [e.sequence_number for e in tail] == list(range(4, len(events)))


def test_background_stream_and_cancel(client, llm):
    llm.script({"text": ["One", " two", " three", " four", " five", " six"], "sleep": 0.4})
    with client.responses.create(model="gpt-4o", input="Count slowly.", background=True, stream=True) as stream:
        first = []
        for event in stream:
            first.append(event)
            if event.type == "response.output_text.delta":
                break
    assert [e.type for e in first[:3]] == ["response.created", "response.queued", "response.in_progress"]
    response_id = first[0].response.id
    # the client went away; the response goes on, and is cancelled from here
    cancelled = client.responses.cancel(response_id)
    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(response_id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(client.responses.create(model="gpt-4o", input="sync").id)


def test_input_tokens(client, llm):
    short = client.responses.input_tokens.count(model="gpt-4o", input="Hi")
    assert short.object == "response.input_tokens" and short.input_tokens > 0
    longer = client.responses.input_tokens.count(
        model="gpt-4o", input="Hi " * 400, instructions="Be brief.", tools=[WEATHER]
    )
    assert longer.input_tokens > short.input_tokens + 250
    assert llm.requests == []  # counting calls no model
    with pytest.raises(openai.NotFoundError):
        client.responses.input_tokens.count(model="gpt-4o", input="x", previous_response_id="resp_missing")


def test_compact_starts_a_new_chain(client, llm):
    llm.script(
        {"text": ["Noted: your budget is 300 euros."]},
        {"text": ["User Ada, budget 300 euros, wants a bike."]},
        {"text": ["A bike for 300 euros, Ada."]},
    )
    r1 = client.responses.create(model="gpt-4o", input="I am Ada, I want a bike, budget 300 euros.")
    compacted = client.responses.compact(model="gpt-4o", previous_response_id=r1.id)
    assert compacted.object == "response.compaction" and compacted.usage.total_tokens > 0
    [item] = compacted.output
    assert item.type == "compaction" and item.id.startswith("cmp_") and item.encrypted_content
    # the model was asked to summarize the chain
    asked = llm.requests[-1]["messages"]
    assert asked[0]["content"].startswith("I am Ada") and asked[-1]["role"] == "system"

    # the compaction item starts a new chain: the model reads the summary, not the old turns
    r2 = client.responses.create(
        model="gpt-4o", input=[item.model_dump(exclude_none=True), {"role": "user", "content": "What should I buy?"}]
    )
    assert r2.output_text == "A bike for 300 euros, Ada."
    sent = llm.requests[-1]["messages"]
    assert sent[0] == {"role": "system", "content": "Summary of the conversation so far:\nUser Ada, budget 300 euros, wants a bike."}
    assert sent[1] == {"role": "user", "content": "What should I buy?"}
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.compact(model="", input="x")
    assert e.value.body["param"] == "model"


PNG_1x1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def test_input_image_by_file_id_is_sent_as_data(client, llm):
    img = client.files.create(file=("dot.png", io.BytesIO(PNG_1x1)), purpose="vision")
    llm.script({"text": ["A dot."]})
    r = client.responses.create(
        model="gpt-4o",
        input=[{"role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "file_id": img.id, "detail": "low"},
        ]}],
    )
    assert r.output_text == "A dot."
    parts = llm.last_request()["messages"][-1]["content"]
    assert parts[1]["type"] == "image_url" and parts[1]["image_url"]["url"].startswith("data:image/png;base64,")
    # the kept input still names the file
    [item] = client.responses.input_items.list(r.id).data
    assert item.content[1].file_id == img.id


def test_input_file_is_read_as_text(client, llm):
    notes = client.files.create(file=("notes.md", io.BytesIO(b"# Notes\n\nThe launch is on Friday.\n")), purpose="user_data")
    llm.script({"text": ["Friday."]}, {"text": ["Tuesday."]})
    r = client.responses.create(
        model="gpt-4o",
        input=[{"role": "user", "content": [
            {"type": "input_file", "file_id": notes.id},
            {"type": "input_text", "text": "When is the launch?"},
        ]}],
    )
    assert r.output_text == "Friday."
    parts = llm.last_request()["messages"][-1]["content"]
    assert parts[0]["type"] == "text" and parts[0]["text"].startswith("[file notes.md]\n# Notes")
    # inline, as a data URL
    import base64
    data = "data:text/plain;base64," + base64.b64encode(b"The launch moved to Tuesday.").decode()
    client.responses.create(
        model="gpt-4o",
        input=[{"role": "user", "content": [
            {"type": "input_file", "filename": "memo.txt", "file_data": data},
            {"type": "input_text", "text": "And now?"},
        ]}],
    )
    assert "moved to Tuesday" in llm.last_request()["messages"][-1]["content"][0]["text"]
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(
            model="gpt-4o",
            input=[{"role": "user", "content": [{"type": "input_file", "file_id": "file-missing"}]}],
        )
    assert e.value.body["param"] == "input"
