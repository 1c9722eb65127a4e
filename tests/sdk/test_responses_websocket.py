"""WebSocket mode of the Responses API through the official SDK (`responses.connect()`,
the `websockets` transport): several responses in sequence on one connection, each
streamed as the SSE events are, validated against `ResponseStreamEvent`;
`previous_response_id` continues within the connection even with `store: false`; an id
the connection cannot continue is an `error` event with `previous_response_not_found`."""

from __future__ import annotations

import json

from spec_validate import validate_response_event


def run_one(conn) -> list:
    """The events of one response, through its final event; each message as sent is
    validated against the spec (errors have WebSocket mode's own shape)."""
    events = []
    while True:
        raw = json.loads(conn.recv_bytes())
        if raw["type"] != "error":
            validate_response_event(raw["type"], raw)
        event = conn.parse_event(json.dumps(raw))
        events.append(event)
        if event.type in ("response.completed", "response.incomplete", "response.failed", "error"):
            return events


def test_responses_in_sequence_with_store_false(client, llm):
    llm.script({"text": ["Hi ", "Ada."]}, {"text": ["You are Ada."]})
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-4o", input="I am Ada.", store=False, instructions="Be brief.")
        first = run_one(conn)
        assert [e.type for e in first[:2]] == ["response.created", "response.in_progress"]
        done = first[-1]
        assert done.type == "response.completed" and done.response.store is False
        assert [e.delta for e in first if e.type == "response.output_text.delta"] == ["Hi ", "Ada."]

        # the second response continues the first, which exists nowhere but on this connection
        conn.response.create(model="gpt-4o", input="Who am I?", store=False, previous_response_id=done.response.id)
        second = run_one(conn)
        assert second[-1].type == "response.completed"
        assert second[-1].response.previous_response_id == done.response.id
        sent = [(m["role"], m["content"]) for m in llm.requests[-1]["messages"]]
        assert sent == [("user", "I am Ada."), ("assistant", "Hi Ada."), ("user", "Who am I?")]

        # an id the connection cannot continue
        conn.response.create(model="gpt-4o", input="x", previous_response_id="resp_unknown")
        [error] = run_one(conn)
        assert error.type == "error" and error.error.code == "previous_response_not_found"
        assert error.error.param == "previous_response_id" and error.status == 404

        # a bad message is an error event and the connection stays open
        conn.send({"type": "response.create", "model": "gpt-4o", "input": "x", "stream": True})
        [error] = run_one(conn)
        assert error.type == "error" and error.error.param == "stream"
        llm.script({"text": ["Still here."]})
        conn.response.create(model="gpt-4o", input="Still there?")
        assert run_one(conn)[-1].type == "response.completed"


def test_a_stored_response_continues_on_a_new_connection(client, llm):
    llm.script({"text": ["Stored."]}, {"text": ["Continued."]})
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-4o", input="Remember this.")
        stored = run_one(conn)[-1].response
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-4o", input="And now?", previous_response_id=stored.id)
        assert run_one(conn)[-1].type == "response.completed"
    assert [m["role"] for m in llm.requests[-1]["messages"]] == ["user", "assistant", "user"]
