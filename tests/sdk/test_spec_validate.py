"""Self-test of spec_validate: needs no server."""

from __future__ import annotations

import copy

import httpx2
import pytest

import spec_validate
from spec_validate import ResponseValidator, convert_nullable, load_spec, validate_stream_event

ASSISTANT = {
    "id": "asst_abc123",
    "object": "assistant",
    "created_at": 1698984975,
    "name": "Math Tutor",
    "description": None,
    "model": "gpt-4o",
    "instructions": "You are a personal math tutor.",
    "tools": [
        {"type": "code_interpreter"},
        {"type": "file_search", "file_search": {"max_num_results": 7}},
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                "strict": True,
            },
        },
    ],
    "tool_resources": {"code_interpreter": {"file_ids": []}},
    "metadata": {},
    "top_p": 1.0,
    "temperature": 0.7,
    "response_format": "auto",
}

RUN = {
    "id": "run_abc123",
    "object": "thread.run",
    "created_at": 1699063290,
    "assistant_id": "asst_abc123",
    "thread_id": "thread_abc123",
    "status": "queued",
    "started_at": None,
    "expires_at": 1699063890,
    "cancelled_at": None,
    "failed_at": None,
    "completed_at": None,
    "required_action": None,
    "last_error": None,
    "model": "gpt-4o",
    "instructions": "",
    "tools": [],
    "metadata": {},
    "usage": None,
    "incomplete_details": None,
    "temperature": 1.0,
    "top_p": 1.0,
    "max_prompt_tokens": 1000,
    "max_completion_tokens": 1000,
    "truncation_strategy": {"type": "auto", "last_messages": None},
    "response_format": "auto",
    "tool_choice": "auto",
    "parallel_tool_calls": True,
}

FILE = {
    "id": "file-abc123",
    "object": "file",
    "bytes": 120000,
    "created_at": 1677610602,
    "filename": "salesOverview.pdf",
    "purpose": "assistants",
    "status": "processed",
}

UPLOAD = {
    "id": "upload_abc123",
    "object": "upload",
    "bytes": 120000,
    "created_at": 1719184911,
    "filename": "salesOverview.pdf",
    "purpose": "assistants",
    "status": "pending",
    "expires_at": 1719188511,
    "file": None,
}

ERROR = {"error": {"message": "No assistant found.", "type": "invalid_request_error", "param": None, "code": None}}


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def expect_invalid(spec, name, instance, *fragments):
    with pytest.raises(AssertionError) as info:
        spec.validate_schema(name, instance)
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    return text


def test_good_assistant_passes(spec):
    spec.validate_schema("AssistantObject", ASSISTANT)


def test_missing_required_key_fails(spec):
    bad = {k: v for k, v in ASSISTANT.items() if k != "model"}
    expect_invalid(spec, "AssistantObject", bad, "'model' is a required property", "schema path: ")


def test_wrong_type_reports_instance_path(spec):
    bad = copy.deepcopy(ASSISTANT)
    bad["tools"][1]["file_search"]["max_num_results"] = "seven"
    expect_invalid(spec, "AssistantObject", bad, "$.tools[1]")


def test_enum_violation_fails(spec):
    bad = dict(ASSISTANT, object="assistant.deleted")
    expect_invalid(spec, "AssistantObject", bad, "$.object")


def test_nullable_true_allows_null(spec):
    run = dict(
        RUN,
        temperature=None,
        top_p=None,
        max_prompt_tokens=None,
        response_format=None,
        truncation_strategy=None,  # allOf [$ref, {nullable: true}]
        tool_choice=None,
    )
    spec.validate_schema("RunObject", run)
    spec.validate_schema("RunObject", RUN)


def test_nullable_keeps_the_type_check(spec):
    expect_invalid(spec, "RunObject", dict(RUN, temperature="hot"), "$.temperature")
    expect_invalid(spec, "RunObject", dict(RUN, truncation_strategy={"type": "bogus"}), "$.truncation_strategy")
    expect_invalid(spec, "RunObject", dict(RUN, expires_at="soon"), "$.expires_at")


def test_non_nullable_rejects_null(spec):
    expect_invalid(spec, "RunObject", dict(RUN, model=None), "$.model")
    expect_invalid(spec, "OpenAIFile", dict(FILE, expires_at=None), "$.expires_at")


def test_small_token_limits_are_a_documented_deviation(spec):
    spec.validate_schema("RunObject", dict(RUN, max_prompt_tokens=200, max_completion_tokens=200))


def test_upload_file_nullable_allof(spec):
    spec.validate_schema("Upload", UPLOAD)
    spec.validate_schema("Upload", dict(UPLOAD, status="completed", file=FILE))
    expect_invalid(spec, "Upload", dict(UPLOAD, file={"id": "file-x"}), "$.file")


def test_convert_nullable_unit():
    assert convert_nullable({"type": "string", "nullable": True}) == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }
    converted = convert_nullable({"allOf": [{"$ref": "#/x"}, {"nullable": True, "description": "d"}]})
    assert converted == {"anyOf": [{"allOf": [{"$ref": "#/x"}]}, {"type": "null"}]}
    # a property *named* like a keyword is data, and examples are untouched
    props = {"properties": {"nullable": {"type": "boolean"}}, "example": {"nullable": True}}
    assert convert_nullable(props) == props


def test_error_response_requires_all_four_keys(spec):
    spec.validate_schema("ErrorResponse", ERROR)
    for key in ("message", "type", "param", "code"):
        inner = {k: v for k, v in ERROR["error"].items() if k != key}
        expect_invalid(spec, "ErrorResponse", {"error": inner}, f"'{key}' is a required property")


def test_empty_list_may_have_null_ids(spec):
    spec.validate_schema(
        "ListAssistantsResponse",
        {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False},
    )


def test_non_empty_list_needs_string_ids(spec):
    expect_invalid(
        spec,
        "ListAssistantsResponse",
        {"object": "list", "data": [ASSISTANT], "first_id": None, "last_id": None, "has_more": False},
        "$.first_id",
    )
    expect_invalid(
        spec,
        "ListAssistantsResponse",
        {"object": "list", "data": [ASSISTANT], "first_id": "asst_abc123", "has_more": False},
        "'last_id' is a required property",
    )
    spec.validate_schema(
        "ListAssistantsResponse",
        {"object": "list", "data": [ASSISTANT], "first_id": "asst_abc123", "last_id": "asst_abc123", "has_more": False},
    )


def test_list_items_are_validated(spec):
    bad = {k: v for k, v in ASSISTANT.items() if k != "tools"}
    expect_invalid(
        spec,
        "ListAssistantsResponse",
        {"object": "list", "data": [bad], "first_id": "asst_abc123", "last_id": "asst_abc123", "has_more": False},
        "'tools' is a required property",
    )


def test_path_matching(spec):
    cases = {
        ("POST", "/threads/runs"): "createThreadAndRun",
        ("POST", "/threads/thread_abc"): "modifyThread",
        ("GET", "/threads/thread_abc"): "getThread",
        ("POST", "/threads"): "createThread",
        ("GET", "/threads/thread_abc/messages"): "listMessages",
        ("POST", "/threads/thread_abc/messages/msg_1"): "modifyMessage",
        ("POST", "/threads/thread_abc/runs/run_1/submit_tool_outputs"): "submitToolOuputsToRun",
        ("GET", "/threads/thread_abc/runs/run_1/steps/step_1"): "getRunStep",
        ("GET", "/files/file-abc/content"): "downloadFile",
        ("POST", "/uploads/upload_1/parts"): "addUploadPart",
        ("POST", "/vector_stores/vs_1/file_batches/vsfb_1/cancel"): "cancelVectorStoreFileBatch",
        ("DELETE", "/assistants/asst_1"): "deleteAssistant",
    }
    for (method, path), operation_id in cases.items():
        op, known = spec.match(method, path)
        assert op is not None and op.operation_id == operation_id, (method, path, op)
        assert known
    assert spec.match("PUT", "/assistants") == (None, True)
    assert spec.match("GET", "/nothing/here") == (None, False)


# -- the httpx hook -------------------------------------------------------------

_counter = iter(range(1_000_000))


def make_response(method, path, status, body=None, *, content=None, headers=None, request_id="auto"):
    request = httpx2.Request(method, "http://127.0.0.1:9/v1" + path)
    hdrs = dict(headers or {})
    if request_id == "auto":
        hdrs["x-request-id"] = f"req_test_{next(_counter)}"
    elif request_id is not None:
        hdrs["x-request-id"] = request_id
    if body is not None:
        return httpx2.Response(status, json=body, headers=hdrs, request=request)
    return httpx2.Response(status, content=content or b"", headers=hdrs, request=request)


def test_hook_accepts_good_responses():
    v = ResponseValidator("/v1")
    v(make_response("GET", "/assistants/asst_abc123", 200, ASSISTANT))
    v(make_response("POST", "/assistants/asst_abc123", 200, ASSISTANT))
    v(make_response("GET", "/assistants/nope", 404, ERROR))
    v(make_response("POST", "/uploads", 200, UPLOAD))
    v(make_response("GET", "/files/file-abc/content", 200, content=b"\x00\xffraw", headers={"content-type": "application/octet-stream"}))
    v(make_response("POST", "/threads/thread_1/runs", 200, content=b"event: done\ndata: [DONE]\n\n", headers={"content-type": "text/event-stream"}))
    assert v.validated == 4


def test_hook_rejects_bad_success_body():
    v = ResponseValidator("/v1")
    bad = {k: v for k, v in ASSISTANT.items() if k != "created_at"}
    with pytest.raises(AssertionError, match=r"GET /v1/assistants/asst_abc123 -> 200.*getAssistant"):
        v(make_response("GET", "/assistants/asst_abc123", 200, bad))


def test_hook_routes_threads_runs_to_create_thread_and_run():
    v = ResponseValidator("/v1")
    v(make_response("POST", "/threads/runs", 200, RUN))
    with pytest.raises(AssertionError, match="createThreadAndRun"):
        v(make_response("POST", "/threads/runs", 200, {"id": "thread_1", "object": "thread", "created_at": 1, "metadata": {}, "tool_resources": None}))


def test_hook_rejects_bad_error_body():
    v = ResponseValidator("/v1")
    with pytest.raises(AssertionError, match="'code' is a required property"):
        v(make_response("GET", "/assistants/x", 404, {"error": {"message": "m", "type": "t", "param": None}}))
    with pytest.raises(AssertionError, match="content-type"):
        v(make_response("GET", "/nothing", 404, content=b"Not Found", headers={"content-type": "text/plain"}))


def test_hook_requires_unique_request_id():
    v = ResponseValidator("/v1")
    with pytest.raises(AssertionError, match="x-request-id"):
        v(make_response("GET", "/assistants/asst_abc123", 200, ASSISTANT, request_id=None))
    v(make_response("GET", "/assistants/asst_abc123", 200, ASSISTANT, request_id="req_same"))
    with pytest.raises(AssertionError, match="already used"):
        v(make_response("GET", "/assistants/asst_abc123", 200, ASSISTANT, request_id="req_same"))


def test_hook_rejects_2xx_json_for_unknown_operation():
    v = ResponseValidator("/v1")
    with pytest.raises(AssertionError, match="unknown method"):
        v(make_response("PUT", "/assistants", 200, {"ok": True}))
    with pytest.raises(AssertionError, match="not in the spec"):
        v(make_response("GET", "/nothing", 200, {"ok": True}))


def test_hook_ignores_paths_outside_base():
    v = ResponseValidator("/v1")
    request = httpx2.Request("GET", "http://127.0.0.1:9/healthz")
    v(httpx2.Response(200, content=b"ok", request=request))
    assert v.validated == 0


def test_stream_event_validation():
    validate_stream_event("thread.run.created", RUN)
    validate_stream_event("done", "[DONE]")
    validate_stream_event("error", ERROR["error"])
    with pytest.raises(AssertionError, match="stream event thread.run.created"):
        validate_stream_event("thread.run.created", {k: v for k, v in RUN.items() if k != "status"})
    with pytest.raises(AssertionError, match="unknown stream event"):
        validate_stream_event("thread.bogus", {})


def test_spec_file_is_found():
    assert spec_validate.find_spec_path().name == "assistants-openapi.yaml"
