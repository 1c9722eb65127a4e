"""Runs with the official SDK against the scripted fake model backend: polling
helpers, streaming helpers, function calling, cancel, steps; and every raw
stream event validated against the spec."""

from __future__ import annotations

import json
import time

import openai
import pytest
from openai import AssistantEventHandler

from spec_validate import validate_stream_event

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def assistant(client):
    a = client.beta.assistants.create(model="gpt-4o", instructions="You are terse.", tools=[WEATHER])
    yield a
    client.beta.assistants.delete(a.id)


def answer_of(client, thread_id: str) -> str:
    msgs = client.beta.threads.messages.list(thread_id=thread_id, order="desc", limit=1)
    return "".join(c.text.value for c in msgs.data[0].content if c.type == "text")


def test_create_and_poll_answers(client, assistant, llm):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hello."}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, additional_instructions="Be kind.", temperature=0.7
    )
    assert run.status == "completed"
    assert run.temperature == 0.7
    # the instructions used: the assistant's, then the additional ones, as the model got them
    assert run.instructions == "You are terse.\n\nBe kind."
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens > 0
    assert answer_of(client, thread.id) == "Hello from the fake model."
    sent = llm.last_request()
    assert sent["messages"][0] == {"role": "system", "content": "You are terse.\n\nBe kind."}
    assert sent["messages"][1]["role"] == "user"
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["model"] == "gpt-4o"
    steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
    assert [s.type for s in steps.data] == ["message_creation"]
    step = client.beta.threads.runs.steps.retrieve(thread_id=thread.id, run_id=run.id, step_id=steps.data[0].id)
    assert step.status == "completed" and step.usage is not None
    msgs = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
    assert len(msgs.data) == 1 and msgs.data[0].assistant_id == assistant.id


def test_polling_follows_openai_poll_after_ms(client, assistant, llm):
    # The SDK's create_and_poll sleeps as long as `openai-poll-after-ms` says (5 s in
    # the Node SDK and 1 s in this one without it); a quick run is seen done at once.
    # The model answers over ~0.3 s, so the first retrieval sees the run still working
    # (an instant answer could finish first, as it did in split mode).
    llm.script({"text": ["Hel", "lo."], "sleep": 0.075})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Say hello."}])
    run = client.beta.threads.runs.with_raw_response.create(thread_id=thread.id, assistant_id=assistant.id).parse()
    raw = client.beta.threads.runs.with_raw_response.retrieve(thread_id=thread.id, run_id=run.id)
    assert raw.parse().status in ("queued", "in_progress")
    assert int(raw.headers["openai-poll-after-ms"]) <= 250
    start = time.monotonic()
    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert done.status == "completed"
    assert time.monotonic() - start < 0.9
    raw = client.beta.threads.runs.with_raw_response.retrieve(thread_id=thread.id, run_id=run.id)
    assert raw.headers["openai-poll-after-ms"] == "1000"


def test_create_thread_and_run_poll_and_list(client, assistant, llm):
    llm.script({"text": ["Forty", "-two."]})
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "The answer?"}]},
        metadata={"k": "v"},
    )
    assert run.status == "completed" and run.metadata == {"k": "v"}
    assert answer_of(client, run.thread_id) == "Forty-two."
    runs = client.beta.threads.runs.list(thread_id=run.thread_id)
    assert [r.id for r in runs.data] == [run.id]
    updated = client.beta.threads.runs.update(thread_id=run.thread_id, run_id=run.id, metadata={"k": "w"})
    assert updated.metadata == {"k": "w"}


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tool_args: list[str] = []
        self.steps_done: list[str] = []
        self.events: list[str] = []

    def on_event(self, event) -> None:
        self.events.append(event.event)

    def on_text_delta(self, delta, snapshot) -> None:
        self.text.append(delta.value)

    def on_tool_call_delta(self, delta, snapshot) -> None:
        if delta.type == "function" and delta.function.arguments:
            self.tool_args.append(delta.function.arguments)

    def on_run_step_done(self, run_step) -> None:
        self.steps_done.append(run_step.type)


def test_stream_helper_text(client, assistant, llm):
    llm.script({"text": ["Stream", "ing ", "works."]})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Go."}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as s:
        s.until_done()
        final = s.get_final_messages()
        run = s.get_final_run()
    assert handler.text == ["Stream", "ing ", "works."]
    assert handler.steps_done == ["message_creation"]
    assert final[0].content[0].text.value == "Streaming works."
    assert final[0].status == "completed"
    assert run.status == "completed"
    assert handler.events[0] == "thread.run.created" and handler.events[-1] == "thread.run.completed"


def test_function_calls_stream_and_submit_stream(client, assistant, llm):
    llm.script(
        {"tool_calls": [{"id": "call_w1", "name": "get_weather", "arguments": ['{"city":', ' "Paris"}']}]},
        {"text": ["It is ", "sunny."]},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Weather in Paris?"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id, event_handler=handler) as s:
        s.until_done()
        run = s.get_final_run()
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.id, c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("call_w1", "get_weather", {"city": "Paris"})
    ]
    assert "".join(handler.tool_args) == '{"city": "Paris"}'

    after = Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": "call_w1", "output": "22C, sunny"}],
        event_handler=after,
    ) as s:
        s.until_done()
        final_run = s.get_final_run()
    assert final_run.status == "completed"
    assert "".join(after.text) == "It is sunny."
    assert after.steps_done == ["tool_calls", "message_creation"]
    tail = llm.last_request()["messages"][-2:]
    assert tail[0]["tool_calls"][0]["id"] == "call_w1"
    assert tail[1] == {"role": "tool", "tool_call_id": "call_w1", "content": "22C, sunny"}
    steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc")
    assert steps.data[0].step_details.tool_calls[0].function.output == "22C, sunny"


def test_submit_tool_outputs_and_poll(client, assistant, llm):
    llm.script(
        {"tool_calls": [{"id": "call_a", "name": "get_weather", "arguments": ['{"city":"Oslo"}']},
                        {"id": "call_b", "name": "get_weather", "arguments": ['{"city":"Rome"}']}]},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Oslo and Rome?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    assert run.expires_at is not None and run.expires_at > time.time()
    ids = [c.id for c in run.required_action.submit_tool_outputs.tool_calls]
    assert ids == ["call_a", "call_b"]
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.submit_tool_outputs(
            thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": "call_a", "output": "cold"}]
        )
    assert err.value.param == "tool_outputs"
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)  # the thread is busy
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        thread_id=thread.id, run_id=run.id,
        tool_outputs=[{"tool_call_id": "call_a", "output": "cold"}, {"tool_call_id": "call_b", "output": "warm"}],
    )
    assert run.status == "completed"
    tools = [m for m in llm.last_request()["messages"] if m["role"] == "tool"]
    assert [(m["tool_call_id"], m["content"]) for m in tools] == [("call_a", "cold"), ("call_b", "warm")]


def test_cancel_a_running_run(client, assistant, llm):
    llm.script({"text": ["a", "b", "c", "d", "e", "f"], "sleep": 0.5})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Slowly."}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "queued"
    for _ in range(100):
        run = client.beta.threads.runs.retrieve(thread_id=thread.id, run_id=run.id)
        if run.status == "in_progress" and client.beta.threads.messages.list(thread_id=thread.id).data[0].role == "assistant":
            break
        time.sleep(0.05)
    cancelled = client.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)
    assert cancelled.status in ("cancelling", "cancelled")
    run = client.beta.threads.runs.poll(thread_id=thread.id, run_id=run.id, poll_interval_ms=50)
    assert run.status == "cancelled" and run.cancelled_at is not None
    msg = client.beta.threads.messages.list(thread_id=thread.id).data[0]
    assert msg.status == "incomplete" and msg.incomplete_details.reason == "run_cancelled"
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)


def test_backend_failure_is_last_error(client, assistant, llm):
    llm.script({"error": 400, "message": "context too long"})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
    assert run.status == "failed"
    assert run.last_error.code == "invalid_prompt"
    assert run.usage is not None


def sse_events(response) -> list[tuple[str, str]]:
    events, name, data = [], None, []
    for line in response.iter_lines():
        if line == "":
            if name is not None or data:
                events.append((name or "message", "\n".join(data)))
            name, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    return events


def test_raw_stream_events_match_the_spec(http, llm):
    llm.script(
        {"tool_calls": [{"id": "call_r", "name": "get_weather", "arguments": ['{"city"', ':"Nice"}']}]},
        {"text": ["Fine", "."]},
    )
    a = http.post("/v1/assistants", json={"model": "m", "tools": [WEATHER]}, headers={"OpenAI-Beta": "assistants=v2"}).json()
    body = {"assistant_id": a["id"], "stream": True, "thread": {"messages": [{"role": "user", "content": "Nice?"}]}}
    with http.stream("POST", "/v1/threads/runs", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers.get("x-request-id")
        events = sse_events(r)
    names = [e for e, _ in events]
    assert names[:4] == ["thread.created", "thread.run.created", "thread.run.queued", "thread.run.in_progress"]
    assert names[-2:] == ["thread.run.requires_action", "done"]
    for name, data in events:
        validate_stream_event(name, data if name == "done" else json.loads(data))
    deltas = [json.loads(d) for n, d in events if n == "thread.run.step.delta"]
    first = deltas[0]["delta"]["step_details"]["tool_calls"][0]
    assert first == {"index": 0, "id": "call_r", "type": "function",
                     "function": {"name": "get_weather", "arguments": "", "output": None}}
    later = deltas[1]["delta"]["step_details"]["tool_calls"][0]
    assert set(later) == {"index", "type", "function"} and set(later["function"]) == {"arguments"}
    run = json.loads(next(d for n, d in events if n == "thread.run.requires_action"))

    body = {"tool_outputs": [{"tool_call_id": "call_r", "output": "mild"}], "stream": True}
    with http.stream("POST", f"/v1/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs", json=body) as r:
        events = sse_events(r)
    names = [e for e, _ in events]
    assert names[:3] == ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress"]
    assert names[-3:] == ["thread.run.step.completed", "thread.run.completed", "done"]
    assert "thread.message.delta" in names
    for name, data in events:
        validate_stream_event(name, data if name == "done" else json.loads(data))
    text = "".join(
        c["text"]["value"] for n, d in events if n == "thread.message.delta" for c in json.loads(d)["delta"]["content"]
    )
    assert text == "Fine."


def test_stream_errors_before_the_first_byte_are_json(http):
    r = http.post("/v1/threads/thread_nope/runs", json={"assistant_id": "asst_nope", "stream": True})
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_uploaded_images_reach_the_model_as_data_urls(client, assistant, llm):
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
    )
    image = client.files.create(file=("dot.png", png), purpose="vision")
    gone = client.files.create(file=("gone.jpg", b"\xff\xd8\xff"), purpose="vision")
    text = client.files.create(file=("notes.txt", b"not an image"), purpose="vision")
    # A file that is not an image cannot be shown as one.
    with pytest.raises(openai.BadRequestError) as bad:
        client.beta.threads.create(messages=[{"role": "user", "content": [
            {"type": "text", "text": "And this?"}, {"type": "image_file", "image_file": {"file_id": text.id}},
        ]}])
    assert bad.value.body["param"] == "messages[0].content[1].image_file.file_id"
    assert "not a supported image" in bad.value.body["message"]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_file", "image_file": {"file_id": image.id, "detail": "low"}},
        {"type": "image_file", "image_file": {"file_id": gone.id}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
    ]}])
    client.files.delete(gone.id)
    llm.script({"text": ["A dot."]})
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50)
    assert run.status == "completed"
    user = [m for m in llm.last_request()["messages"] if m["role"] == "user"][-1]["content"]
    import base64
    assert user[0] == {"type": "text", "text": "What is in these?"}
    assert user[1] == {"type": "image_url", "image_url": {
        "url": "data:image/png;base64," + base64.b64encode(png).decode(), "detail": "low"}}
    assert user[2] == {"type": "text", "text": f"[image {gone.id} could not be shown: the file was deleted]"}
    assert user[3] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "auto"}}
