"""The file_search tool with the official SDK and the scripted fake model: the model
asks for a search, the engine searches the assistant's and the thread's vector
stores, the answer cites the results, and the step carries the results (with their
content only when asked through include[])."""

from __future__ import annotations

import json

import pytest

INCLUDE_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def test_assistant_answers_from_files_with_citations(client, llm, docs_store):
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search", "file_search": {"max_num_results": 5}}],
        tool_resources={"file_search": {"vector_store_ids": [docs_store.id]}},
    )
    llm.script(
        {"tool_calls": [{"id": "call_fs", "name": "file_search", "arguments": ['{"queries": ["paid leave days"]}']}]},
        {"text": ["Employees get 30 days of paid leave", "【0:0†handbook.md】."]},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "How much leave do I get?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error

    # The model was offered file_search as a function, and got the results back.
    first, second = llm.requests[-2], llm.requests[-1]
    offered = [t["function"]["name"] for t in first["tools"]]
    assert offered == ["file_search"]
    tool_msg = second["messages"][-1]
    assert tool_msg["role"] == "tool" and tool_msg["tool_call_id"] == "call_fs"
    assert tool_msg["content"].startswith("【0:0†handbook.md】") and "30 days of paid leave" in tool_msg["content"]

    # The answer cites the file.
    msg = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0]
    text = msg.content[0].text
    assert text.value == "Employees get 30 days of paid leave【0:0†handbook.md】."
    [ann] = text.annotations
    handbook = [f for f in client.vector_stores.files.list(vector_store_id=docs_store.id)]
    names = {f.id: client.files.retrieve(f.id).filename for f in handbook}
    assert ann.type == "file_citation" and names[ann.file_citation.file_id] == "handbook.md"
    assert ann.text == "【0:0†handbook.md】"
    assert text.value[ann.start_index : ann.end_index] == ann.text

    # The step: a file_search call with ranking options and results; content only on request.
    steps = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, order="asc")
    call = steps.data[0].step_details.tool_calls[0]
    assert steps.data[0].step_details.type == "tool_calls" and call.type == "file_search"
    assert call.id == "call_fs"
    assert call.file_search.ranking_options.ranker == "default_2024_08_21"
    assert call.file_search.ranking_options.score_threshold == 0.0
    results = call.file_search.results
    assert results[0].file_name == "handbook.md" and 0 < results[0].score <= 1
    assert not results[0].content
    step = client.beta.threads.runs.steps.retrieve(
        thread_id=thread.id, run_id=run.id, step_id=steps.data[0].id, include=[INCLUDE_CONTENT]
    )
    content = step.step_details.tool_calls[0].file_search.results[0].content
    assert content[0].type == "text" and "30 days of paid leave" in content[0].text
    listed = client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=run.id, include=[INCLUDE_CONTENT])
    assert any(
        r.content for s in listed.data if s.step_details.type == "tool_calls" for c in s.step_details.tool_calls for r in c.file_search.results
    )
    client.beta.assistants.delete(assistant.id)


def test_attachments_go_into_the_threads_vector_store(client, llm):
    f = client.files.create(file=("menu.txt", b"Friday is pizza day in the canteen.", "text/plain"), purpose="assistants")
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "What is on Friday?",
                "attachments": [{"file_id": f.id, "tools": [{"type": "file_search"}]}],
            }
        ]
    )
    [vs_id] = thread.tool_resources.file_search.vector_store_ids
    assert [x.id for x in client.vector_stores.files.list(vector_store_id=vs_id)] == [f.id]
    llm.script(
        {"tool_calls": [{"id": "call_1", "name": "file_search", "arguments": [json.dumps({"queries": ["Friday canteen"]})]}]},
        {"text": ["Pizza【0:0†menu.txt】"]},
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed", run.last_error
    msg = client.beta.threads.messages.list(thread_id=thread.id, order="desc", limit=1).data[0]
    assert msg.content[0].text.annotations[0].file_citation.file_id == f.id

    # A later message's attachment joins the same store.
    g = client.files.create(file=("drinks.txt", b"Coffee is free.", "text/plain"), purpose="assistants")
    client.beta.threads.messages.create(
        thread_id=thread.id, role="user", content="And drinks?", attachments=[{"file_id": g.id, "tools": [{"type": "file_search"}]}]
    )
    ids = {x.id for x in client.vector_stores.files.list(vector_store_id=vs_id)}
    assert ids == {f.id, g.id}
    client.beta.assistants.delete(assistant.id)


def test_tool_resources_helper_creates_a_store(client):
    f = client.files.create(file=("a.txt", b"alpha beta", "text/plain"), purpose="assistants")
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [f.id], "metadata": {"made": "helper"}}]}},
    )
    [vs_id] = assistant.tool_resources.file_search.vector_store_ids
    vs = client.vector_stores.retrieve(vs_id)
    assert vs.metadata == {"made": "helper"} and vs.file_counts.total == 1
    client.beta.assistants.delete(assistant.id)


def test_streamed_file_search_run(client, llm, docs_store):
    assistant = client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "file_search"}], tool_resources={"file_search": {"vector_store_ids": [docs_store.id]}}
    )
    llm.script(
        {"tool_calls": [{"id": "call_s", "name": "file_search", "arguments": ['{"queries": ["lunch"]}']}]},
        {"text": ["Lunch is at noon", "【0:0†canteen.txt】"]},
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "When is lunch?"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
        final = stream.get_final_messages()
        steps = stream.get_final_run_steps()
    assert final[-1].content[0].text.annotations[0].type == "file_citation"
    kinds = [s.step_details.type for s in steps]
    assert kinds == ["tool_calls", "message_creation"]
    assert steps[0].step_details.tool_calls[0].type == "file_search"
    client.beta.assistants.delete(assistant.id)
