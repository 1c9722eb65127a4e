"""The code_interpreter tool of the Responses API: the scripted model writes Python,
the response runs it in its container's sandbox session (bubblewrap) with the
container's files in /mnt/data; the code_interpreter_call item carries the code and,
with `include=["code_interpreter_call.outputs"]`, its logs; a file the code writes is
cited with a container_file_citation; a chained response keeps the container's state;
the stream sends the code_interpreter events."""

from __future__ import annotations

import io
import json

from spec_validate import validate_response_event
from test_runs import sse_events


def code_call(call_id: str, code: str) -> dict:
    arguments = json.dumps({"code": code})
    half = len(arguments) // 2
    return {"tool_calls": [{"id": call_id, "name": "code_interpreter", "arguments": [arguments[:half], arguments[half:]]}]}


def test_code_runs_on_a_file_and_writes_one(client, llm):
    data = client.files.create(file=("numbers.csv", io.BytesIO(b"n\n1\n2\n3\n")), purpose="user_data")
    llm.script(
        code_call("call_c1", "import pandas as pd\nd = pd.read_csv('/mnt/data/numbers.csv')\n"
                  "total = int(d.n.sum())\nprint('sum', total)\nopen('/mnt/data/total.txt', 'w').write(str(total))"),
        {"text": ["The sum is 6; see sandbox:/mnt/data/total.txt."]},
        code_call("call_c2", "print(total * 10)"),
        {"text": ["Sixty."]},
    )
    tools = [{"type": "code_interpreter", "container": {"type": "auto", "file_ids": [data.id]}}]
    r = client.responses.create(
        model="gpt-4o", input="Sum the numbers.", tools=tools, include=["code_interpreter_call.outputs"]
    )
    assert r.status == "completed", r.error
    call, message = r.output
    assert call.type == "code_interpreter_call" and call.status == "completed"
    assert call.container_id.startswith("cntr_") and "read_csv" in call.code
    assert call.outputs[0].type == "logs" and "sum 6" in call.outputs[0].logs
    # what the model read back
    tool_msg = llm.requests[-1]["messages"][-1]
    assert tool_msg["role"] == "tool" and "sum 6" in tool_msg["content"]
    # the written file is stored and cited
    [cite] = message.content[0].annotations
    assert cite.type == "container_file_citation" and cite.filename == "total.txt"
    assert cite.container_id == call.container_id
    assert client.files.content(cite.file_id).read() == b"6"
    text = message.content[0].text
    assert text[cite.start_index : cite.end_index] == "sandbox:/mnt/data/total.txt"

    # outputs only with include
    assert client.responses.retrieve(r.id).output[0].outputs is None

    # a chained response continues the same container (its variables are still there)
    r2 = client.responses.create(
        model="gpt-4o", input="Times ten?", tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        previous_response_id=r.id, include=["code_interpreter_call.outputs"],
    )
    assert r2.output[0].container_id == call.container_id
    assert "60" in r2.output[0].outputs[0].logs


def test_stream_sends_the_code_interpreter_events(http, llm):
    llm.script(code_call("call_s", "print(2 + 2)"), {"text": ["Four."]})
    body = {"model": "m", "input": "2+2?", "stream": True,
            "tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]}
    with http.stream("POST", "/v1/responses", json=body) as r:
        assert r.status_code == 200
        events = sse_events(r)
    names = [e for e, _ in events]
    for name, data in events:
        validate_response_event(name, json.loads(data))
    i = names.index("response.code_interpreter_call.in_progress")
    assert names[i - 1 : i + 6] == [
        "response.output_item.added",
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call.completed",
        "response.output_item.done",
    ]
    done = json.loads(events[names.index("response.code_interpreter_call_code.done")][1])
    assert done["code"] == "print(2 + 2)"
    assert names[-1] == "response.completed"
