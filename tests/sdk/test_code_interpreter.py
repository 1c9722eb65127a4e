"""code_interpreter with the official SDK: the scripted model writes Python, the
server runs it in the thread's sandbox session (bubblewrap) and the SDK's helpers
see the code stream in, its logs, its figures and the files it wrote."""

from __future__ import annotations

import json
import time

import pytest
from openai import AssistantEventHandler


@pytest.fixture
def tutor(client):
    # The official quickstart's math tutor.
    a = client.beta.assistants.create(
        name="Math Tutor",
        instructions="You are a personal math tutor. Write and run code to answer math questions.",
        tools=[{"type": "code_interpreter"}],
        model="gpt-4o",
    )
    yield a
    client.beta.assistants.delete(a.id)


def code_call(call_id: str, *code_fragments: str) -> dict:
    """A model reply calling code_interpreter; the JSON arguments streamed in pieces."""
    arguments = json.dumps({"code": "".join(code_fragments)})
    cut = [0, len(arguments) // 3, 2 * len(arguments) // 3, len(arguments)]
    return {"tool_calls": [{"id": call_id, "name": "code_interpreter",
                            "arguments": [arguments[a:b] for a, b in zip(cut, cut[1:])]}]}


class Recorder(AssistantEventHandler):
    """What openai-python's streaming example prints, kept."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[str] = []
        self.logs: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def on_text_delta(self, delta, snapshot) -> None:
        self.text.append(delta.value)

    def on_tool_call_delta(self, delta, snapshot) -> None:
        if delta.type == "code_interpreter":
            if delta.code_interpreter.input:
                self.inputs.append(delta.code_interpreter.input)
            for output in delta.code_interpreter.outputs or []:
                if output.type == "logs":
                    self.logs.append(output.logs)

    def on_image_file_done(self, image_file) -> None:
        self.images.append(image_file.file_id)


def code_steps(client, thread_id: str, run_id: str):
    steps = client.beta.threads.runs.steps.list(thread_id=thread_id, run_id=run_id, order="asc")
    return [c for s in steps.data if s.type == "tool_calls" for c in s.step_details.tool_calls]


def test_math_tutor_solves_with_sympy(client, tutor, llm):
    # The quickstart: "I need to solve the equation `3x + 11 = 14`. Can you help me?"
    code = "from sympy import symbols, Eq, solve\nx = symbols('x')\nprint(solve(Eq(3*x + 11, 14), x))"
    llm.script(code_call("call_m1", code), {"text": ["x = 1."]})
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content="I need to solve the equation `3x + 11 = 14`. Can you help me?"
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=tutor.id,
        instructions="Please address the user as Jane Doe. The user has a premium account.",
    )
    assert run.status == "completed"
    [call] = code_steps(client, thread.id, run.id)
    assert [o.logs for o in call.code_interpreter.outputs] == ["[1]\n"]
    # The model got the computed result back, and answered with it.
    assert llm.requests[-1]["messages"][-1]["content"] == "[1]\n"
    messages = client.beta.threads.messages.list(thread_id=thread.id, order="desc")
    assert messages.data[0].content[0].text.value == "x = 1."


def test_math_tutor_streams_code_and_logs(client, tutor, llm):
    llm.script(code_call("call_c1", "x = 6 * ", "7\nprint(f'x is {x}')"), {"text": ["x is ", "42."]})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "What is 6 times 7?"}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=tutor.id, event_handler=handler) as s:
        s.until_done()
        run = s.get_final_run()
    assert run.status == "completed"
    assert "".join(handler.inputs) == "x = 6 * 7\nprint(f'x is {x}')"
    assert len(handler.inputs) > 1, "the code streams in pieces"
    assert handler.logs == ["x is 42\n"]
    assert "".join(handler.text) == "x is 42."

    [call] = code_steps(client, thread.id, run.id)
    assert call.type == "code_interpreter" and call.id == "call_c1"
    assert call.code_interpreter.input == "x = 6 * 7\nprint(f'x is {x}')"
    assert [(o.type, o.logs) for o in call.code_interpreter.outputs] == [("logs", "x is 42\n")]

    first, second = llm.requests[-2], llm.requests[-1]
    offered = [t["function"]["name"] for t in first["tools"]]
    assert offered == ["code_interpreter"]
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_c1", "content": "x is 42\n"}


def test_a_session_keeps_its_state_between_runs(client, tutor, llm):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Let y be 5."}])
    llm.script(code_call("call_s1", "y = 5"), {"text": ["Done."]})
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id, poll_interval_ms=50)
    assert run.status == "completed"
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Double it.")
    llm.script(code_call("call_s2", "y * 2"), {"text": ["10."]})
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id, poll_interval_ms=50)
    assert run.status == "completed"
    [call] = code_steps(client, thread.id, run.id)
    assert [o.logs for o in call.code_interpreter.outputs] == ["10\n"]


def test_a_chart_is_an_image_file(client, tutor, llm):
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.title('squares')\nplt.show()"
    llm.script(code_call("call_p1", code), {"text": ["Here is the chart."]})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Plot squares."}])
    handler = Recorder()
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=tutor.id, event_handler=handler) as s:
        s.until_done()
        messages = s.get_final_messages()
    assert len(handler.images) == 1
    image_id = handler.images[0]
    [call] = code_steps(client, thread.id, messages[0].run_id)
    assert [(o.type, o.image.file_id) for o in call.code_interpreter.outputs if o.type == "image"] == [
        ("image", image_id)
    ]
    message = client.beta.threads.messages.retrieve(thread_id=thread.id, message_id=messages[-1].id)
    assert [c.type for c in message.content] == ["image_file", "text"]
    assert message.content[0].image_file.file_id == image_id
    assert message.content[1].text.value == "Here is the chart."
    info = client.files.retrieve(image_id)
    assert info.purpose == "assistants_output" and info.filename.endswith(".png")
    assert client.files.content(image_id).read()[:8] == b"\x89PNG\r\n\x1a\n"
    # The model is told a figure was shown, not given the bytes.
    assert "figure" in llm.requests[-1]["messages"][-1]["content"]


def test_input_csv_and_output_file(client, tutor, llm):
    data = client.files.create(file=("sales.csv", b"region,amount\nnorth,10\nsouth,32\n"), purpose="assistants")
    thread = client.beta.threads.create(messages=[{
        "role": "user", "content": "Total the sales and give me a CSV by region.",
        "attachments": [{"file_id": data.id, "tools": [{"type": "code_interpreter"}]}],
    }])
    code = (
        "import pandas as pd\n"
        "df = pd.read_csv('/mnt/data/sales.csv')\n"
        "df.groupby('region').sum().to_csv('/mnt/data/by_region.csv')\n"
        "print(df.amount.sum())"
    )
    llm.script(code_call("call_f1", code), {"text": ["Total 42. [by region](sandbox:/mnt/data/by_region.csv)"]})
    # The attachment joins the thread's code_interpreter files, as on OpenAI.
    thread = client.beta.threads.retrieve(thread.id)
    assert thread.tool_resources.code_interpreter.file_ids == [data.id]
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id, poll_interval_ms=50)
    assert run.status == "completed", run.last_error
    [call] = code_steps(client, thread.id, run.id)
    assert [o.logs for o in call.code_interpreter.outputs] == ["42\n"]
    # The model was told where the file is.
    assert "/mnt/data/sales.csv" in llm.requests[-2]["messages"][0]["content"]

    message = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0]
    text = message.content[0].text
    [note] = text.annotations
    assert note.type == "file_path" and note.text == "sandbox:/mnt/data/by_region.csv"
    assert text.value[note.start_index:note.end_index] == note.text
    written = client.files.content(note.file_path.file_id).read()
    assert written == b"region,amount\nnorth,10\nsouth,32\n"
    assert client.files.retrieve(note.file_path.file_id).purpose == "assistants_output"


def test_files_of_the_assistants_tool_resources(client, llm):
    data = client.files.create(file=("prices.csv", b"item,price\npen,1.5\nbook,12\n"), purpose="assistants")
    analyst = client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [data.id]}},
    )
    try:
        code = "import pandas as pd\nprint(pd.read_csv('/mnt/data/prices.csv').price.max())"
        llm.script(code_call("call_t1", code), {"text": ["12."]})
        run = client.beta.threads.create_and_run_poll(
            assistant_id=analyst.id, thread={"messages": [{"role": "user", "content": "Priciest?"}]},
            poll_interval_ms=50,
        )
        assert run.status == "completed", run.last_error
        [call] = code_steps(client, run.thread_id, run.id)
        assert [o.logs for o in call.code_interpreter.outputs] == ["12.0\n"]
        assert "/mnt/data/prices.csv" in llm.requests[-2]["messages"][0]["content"]
    finally:
        client.beta.assistants.delete(analyst.id)


def test_a_cell_past_the_wall_time_is_stopped(client, tutor, llm):
    from conftest import SANDBOX_TIMEOUT_S

    llm.script(code_call("call_w1", "while True:\n    pass"), {"text": ["Too slow."]})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Loop."}])
    started = time.monotonic()
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id, poll_interval_ms=100)
    assert run.status == "completed"
    assert time.monotonic() - started < SANDBOX_TIMEOUT_S + 10
    [call] = code_steps(client, thread.id, run.id)
    assert f"execution timed out after {SANDBOX_TIMEOUT_S} s" in call.code_interpreter.outputs[-1].logs
    assert "timed out" in llm.requests[-1]["messages"][-1]["content"]


def test_an_exception_is_a_traceback_the_model_reads(client, tutor, llm):
    llm.script(code_call("call_e1", "1 / 0"), {"text": ["Division by zero."]})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "1/0?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id, poll_interval_ms=50)
    assert run.status == "completed"
    [call] = code_steps(client, thread.id, run.id)
    assert "ZeroDivisionError" in call.code_interpreter.outputs[0].logs
    assert "ZeroDivisionError" in llm.requests[-1]["messages"][-1]["content"]


def test_tool_choice_forces_the_code_interpreter(client, tutor, llm):
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi."}])
    llm.script({"text": ["Hi."]})
    client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=tutor.id, tool_choice={"type": "code_interpreter"}, poll_interval_ms=50
    )
    assert llm.requests[-1]["tool_choice"] == {"type": "function", "function": {"name": "code_interpreter"}}


def test_cancel_kills_a_running_cell(client, tutor, llm):
    llm.script(code_call("call_k1", "import time\ntime.sleep(60)"))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Wait."}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=tutor.id)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id)
        if steps.data and steps.data[0].type == "tool_calls":
            break
        time.sleep(0.05)
    time.sleep(0.5)
    started = time.monotonic()
    client.beta.threads.runs.cancel(thread_id=thread.id, run_id=run.id)
    run = client.beta.threads.runs.poll(thread_id=thread.id, run_id=run.id, poll_interval_ms=50)
    assert run.status == "cancelled"
    assert time.monotonic() - started < 10
    # The session is usable again afterwards (the killed cell took its state with it).
    llm.script(code_call("call_k2", "print('again')"), {"text": ["ok"]})
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Again.")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id, poll_interval_ms=50)
    assert run.status == "completed"
    [call] = code_steps(client, thread.id, run.id)
    assert [o.logs for o in call.code_interpreter.outputs] == ["again\n"]


def test_raw_stream_events_match_the_spec(http, llm):
    from spec_validate import validate_stream_event
    from test_runs import sse_events

    code = "import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nprint('drawn')"
    llm.script(code_call("call_r1", code), {"text": ["See ", "the chart."]})
    a = http.post("/v1/assistants", json={"model": "m", "tools": [{"type": "code_interpreter"}]}).json()
    body = {"assistant_id": a["id"], "stream": True, "thread": {"messages": [{"role": "user", "content": "Draw."}]}}
    with http.stream("POST", "/v1/threads/runs", json=body) as r:
        assert r.status_code == 200
        events = sse_events(r)
    assert [e for e, _ in events][-2:] == ["thread.run.completed", "done"]
    for name, data in events:
        validate_stream_event(name, data if name == "done" else json.loads(data))
    deltas = [json.loads(d)["delta"]["step_details"]["tool_calls"][0] for n, d in events if n == "thread.run.step.delta"]
    assert deltas[0] == {"index": 0, "id": "call_r1", "type": "code_interpreter",
                         "code_interpreter": {"input": "", "outputs": []}}
    assert "".join(d["code_interpreter"].get("input") or "" for d in deltas) == code
    outputs = deltas[-1]["code_interpreter"]["outputs"]
    assert [o["type"] for o in outputs] == ["logs", "image"]
    assert outputs[0] == {"index": 0, "type": "logs", "logs": "drawn\n"}
    image_id = outputs[1]["image"]["file_id"]
    parts = [c for n, d in events if n == "thread.message.delta" for c in json.loads(d)["delta"]["content"]]
    assert parts[0] == {"index": 0, "type": "image_file", "image_file": {"file_id": image_id}}
    assert "".join(p["text"]["value"] for p in parts[1:]) == "See the chart."
    assert {p["index"] for p in parts[1:]} == {1}
    done = json.loads(next(d for n, d in events if n == "thread.message.completed"))
    assert [c["type"] for c in done["content"]] == ["image_file", "text"]


def test_hostile_cells_end_only_their_session(client, tutor, llm, server):
    # Through the real server: each cell is contained, the run goes on, and the server
    # keeps answering; the server's keys and data stay out of reach.
    probe = (
        "import os\n"
        f"print(os.environ.get('ASSISTD_API_KEYS'), os.path.exists({str(server.data_dir)!r}), "
        "os.path.exists('/etc/shadow'))"
    )
    cells = [
        (probe, lambda logs: logs == "None False False\n"),
        ("x = []\nwhile True: x.append(bytearray(50 << 20))", lambda logs: "memory limit exceeded" in logs),
        ("import os\nos.system('kill -9 -1')", lambda logs: logs != ""),
        ("import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)", lambda logs: "Error" in logs),
    ]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Try."}])
    for n, (code, held) in enumerate(cells):
        llm.script(code_call(f"call_h{n}", code), {"text": ["Done."]})
        run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=tutor.id, poll_interval_ms=50)
        assert run.status == "completed", (code, run.last_error)
        [call] = code_steps(client, thread.id, run.id)
        logs = "".join(o.logs for o in call.code_interpreter.outputs if o.type == "logs")
        assert held(logs), (code, logs)
        assert client.beta.assistants.retrieve(tutor.id).id == tutor.id
        client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Again.")
