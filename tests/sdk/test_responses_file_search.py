"""The file_search tool of the Responses API over a vector store made with the
Assistants-era API: the model asks for a search, the response searches the store, the
answer cites the result; the file_search_call item carries its results with
`include=["file_search_call.results"]`, and the stream sends the file_search events."""

from __future__ import annotations

import json

import openai
import pytest

from spec_validate import validate_response_event
from test_runs import sse_events


def search_then_cite() -> tuple[dict, dict]:
    return (
        {"tool_calls": [{"id": "call_fs", "name": "file_search", "arguments": ['{"queries": ["paid leave days"]}']}]},
        {"text": ["Employees get 30 days of paid leave", "【0:0†handbook.md】."]},
    )


def test_answer_cites_the_file(client, llm, docs_store):
    llm.script(*search_then_cite())
    r = client.responses.create(
        model="gpt-4o",
        input="How much leave do I get?",
        tools=[{"type": "file_search", "vector_store_ids": [docs_store.id], "max_num_results": 5}],
        include=["file_search_call.results"],
    )
    assert r.status == "completed"
    call, message = r.output
    assert call.type == "file_search_call" and call.status == "completed" and call.id.startswith("fs_")
    assert call.queries == ["paid leave days"]
    assert call.results[0].filename == "handbook.md" and "30 days" in call.results[0].text
    assert 0 < call.results[0].score <= 1

    text = message.content[0]
    assert text.text == "Employees get 30 days of paid leave【0:0†handbook.md】."
    [ann] = text.annotations
    assert ann.type == "file_citation" and ann.filename == "handbook.md"
    assert ann.file_id == call.results[0].file_id
    assert text.text[ann.index :].startswith("【0:0†handbook.md】")

    # the model was offered file_search as a function and read the results under markers
    first, second = llm.requests[-2], llm.requests[-1]
    assert [t["function"]["name"] for t in first["tools"]] == ["file_search"]
    tool_msg = second["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_fs"
    assert tool_msg["content"].startswith("【0:0†handbook.md】")

    # results only with include
    plain = client.responses.retrieve(r.id)
    assert plain.output[0].results is None
    shown = client.responses.retrieve(r.id, include=["file_search_call.results"])
    assert shown.output[0].results[0].filename == "handbook.md"


def test_stream_sends_the_file_search_events(http, llm, docs_store):
    llm.script(*search_then_cite())
    body = {
        "model": "m",
        "input": "Leave?",
        "stream": True,
        "tools": [{"type": "file_search", "vector_store_ids": [docs_store.id]}],
    }
    with http.stream("POST", "/v1/responses", json=body) as r:
        assert r.status_code == 200
        events = sse_events(r)
    names = [e for e, _ in events]
    for name, data in events:
        validate_response_event(name, json.loads(data))
    i = names.index("response.file_search_call.in_progress")
    assert names[i - 1 : i + 4] == [
        "response.output_item.added",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.file_search_call.completed",
        "response.output_item.done",
    ]
    assert "response.output_text.annotation.added" in names
    assert names.index("response.output_text.annotation.added") < names.index("response.output_text.done")
    assert names[-1] == "response.completed"


def test_bad_file_search_tools_are_refused(client, llm):
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(
            model="gpt-4o", input="x", tools=[{"type": "file_search", "vector_store_ids": ["vs_missing"]}]
        )
    assert e.value.body["param"] == "tools[0].vector_store_ids[0]"
    with pytest.raises(openai.BadRequestError) as e:
        client.responses.create(
            model="gpt-4o",
            input="x",
            tools=[{"type": "file_search", "vector_store_ids": [], "filters": {"type": "eq", "value": 1}}],
        )
    assert e.value.body["param"] == "tools[0].filters.key"
