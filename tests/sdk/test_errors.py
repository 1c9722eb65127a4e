"""Error responses: status codes, the OpenAI error body, x-request-id.

Every response here also goes through spec_validate's hook, which checks the
`{"error": {message, type, param, code}}` shape and the x-request-id header of
every error and success.
"""

from __future__ import annotations

import openai
import pytest

BETA = {"OpenAI-Beta": "assistants=v2"}
ERROR_KEYS = {"message", "type", "param", "code"}


def error_of(response, status):
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json")
    assert response.headers.get("x-request-id")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert ERROR_KEYS <= set(error), error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    return error


def bad_request(excinfo, param):
    err = excinfo.value
    assert err.status_code == 400
    assert err.type == "invalid_request_error"
    assert err.param == param, f"param {err.param!r} != {param!r}: {err.message}"
    assert err.request_id
    assert isinstance(err.body, dict) and ERROR_KEYS <= set(err.body)
    return err


# -- authentication --------------------------------------------------------------


def test_wrong_api_key_is_401(client_factory):
    wrong = client_factory(api_key="sk-wrong-key")
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.beta.assistants.list()
    err = info.value
    assert err.status_code == 401
    assert err.code == "invalid_api_key"
    assert err.type == "invalid_request_error"
    assert err.request_id


def test_wrong_api_key_on_files_and_uploads_is_401(client_factory):
    wrong = client_factory(api_key="sk-wrong-key")
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.files.list()
    assert info.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        wrong.uploads.create(bytes=1, filename="a.txt", mime_type="text/plain", purpose="assistants")


def test_missing_authorization_is_401(anon_http):
    response = anon_http.get("/v1/assistants", headers=BETA)
    error = error_of(response, 401)
    assert error["type"] == "invalid_request_error"


def test_malformed_bearer_is_401(anon_http):
    response = anon_http.get("/v1/threads/thread_x", headers={"Authorization": "Basic c2stdGVzdC1rZXktMQ==", **BETA})
    error_of(response, 401)


def test_health_needs_no_key(anon_http):
    assert anon_http.get("/healthz").status_code == 200


# -- routing ---------------------------------------------------------------------


def test_unknown_route_is_404_with_openai_body(http):
    error = error_of(http.get("/v1/no_such_thing"), 404)
    assert error["type"] == "invalid_request_error"


def test_unknown_nested_route_is_404(http):
    error_of(http.post("/v1/assistants/asst_x/frobnicate", json={}, headers=BETA), 404)


@pytest.mark.parametrize(
    "method,path",
    [("PUT", "/v1/assistants"), ("DELETE", "/v1/files"), ("PATCH", "/v1/threads/thread_x"), ("GET", "/v1/uploads")],
)
def test_wrong_method_is_405(http, method, path):
    error_of(http.request(method, path, headers=BETA), 405)


# -- malformed and invalid bodies -------------------------------------------------


def test_malformed_json_is_400(http):
    response = http.post(
        "/v1/assistants",
        content=b'{"model": "gpt-4o", "name": ',
        headers={"Content-Type": "application/json", **BETA},
    )
    error = error_of(response, 400)
    assert error["type"] == "invalid_request_error"


def test_json_that_is_not_an_object_is_400(http):
    response = http.post("/v1/threads", content=b"[1, 2, 3]", headers={"Content-Type": "application/json", **BETA})
    error_of(response, 400)


def test_unknown_field_is_400_naming_it(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", extra_body={"bogus_field": 1})
    bad_request(info, "bogus_field")


def test_unknown_field_on_message_is_400(client):
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.messages.create(thread.id, role="user", content="hi", extra_body={"colour": "red"})
    bad_request(info, "colour")


def test_missing_required_field_is_400(http):
    response = http.post("/v1/assistants", json={"name": "no model"}, headers=BETA)
    error = error_of(response, 400)
    assert error["param"] == "model"


def test_wrong_type_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", temperature="hot")  # type: ignore[arg-type]
    bad_request(info, "temperature")


@pytest.mark.parametrize(
    "field,value",
    [("temperature", 2.5), ("top_p", 1.5), ("temperature", -0.1)],
)
def test_out_of_range_number_is_400(client, field, value):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", **{field: value})
    bad_request(info, field)


@pytest.mark.parametrize(
    "metadata",
    [
        {f"k{i}": "v" for i in range(17)},
        {"k" * 65: "v"},
        {"k": "v" * 513},
    ],
    ids=["17-keys", "65-char-key", "513-char-value"],
)
def test_invalid_metadata_is_400(client, metadata):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", metadata=metadata)
    bad_request(info, "metadata")
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.create(metadata=metadata)
    bad_request(info, "metadata")


def test_sixteen_metadata_keys_are_fine(client):
    metadata = {f"k{i:02d}": "v" * 512 for i in range(16)}
    metadata["k" * 64] = metadata.pop("k00")
    assistant = client.beta.assistants.create(model="gpt-4o", metadata=metadata)
    assert assistant.metadata == metadata


@pytest.mark.parametrize("field,length", [("name", 257), ("description", 513)])
def test_too_long_string_is_400(client, field, length):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", **{field: "x" * length})
    bad_request(info, field)
    ok = client.beta.assistants.create(model="gpt-4o", **{field: "x" * (length - 1)})
    assert getattr(ok, field) == "x" * (length - 1)


def test_too_long_name_on_update_is_400(client):
    assistant = client.beta.assistants.create(model="gpt-4o", name="short")
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.update(assistant.id, name="n" * 257)
    bad_request(info, "name")
    assert client.beta.assistants.retrieve(assistant.id).name == "short"


def test_unknown_tool_type_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.create(model="gpt-4o", tools=[{"type": "web_browser"}])  # type: ignore[list-item]
    err = info.value
    assert err.param is not None and err.param.startswith("tools"), err.param


# -- query parameters ---------------------------------------------------------------


@pytest.mark.parametrize("limit", [101, 0])
def test_list_limit_out_of_range_is_400(client, limit):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.list(limit=limit)
    bad_request(info, "limit")


def test_message_list_limit_out_of_range_is_400(client):
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.threads.messages.list(thread.id, limit=101)
    bad_request(info, "limit")


def test_files_list_limit_goes_to_10000(client):
    assert client.files.list(limit=10_000).has_more in (True, False)
    with pytest.raises(openai.BadRequestError) as info:
        client.files.list(limit=10_001)
    bad_request(info, "limit")


def test_bad_order_is_400(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.beta.assistants.list(order="sideways")  # type: ignore[arg-type]
    bad_request(info, "order")


def test_non_integer_limit_is_400(http):
    error = error_of(http.get("/v1/assistants", params={"limit": "ten"}, headers=BETA), 400)
    assert error["param"] == "limit"


# -- not found -------------------------------------------------------------------------
#
# An object of another project must be indistinguishable from a missing one. The
# server here has a single key (one project), so this suite checks the
# missing-object half; project isolation itself is covered by the Rust
# end-to-end tests in tests/.


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.beta.assistants.retrieve("asst_doesnotexist"),
        lambda c: c.beta.assistants.update("asst_doesnotexist", name="x"),
        lambda c: c.beta.assistants.delete("asst_doesnotexist"),
        lambda c: c.beta.threads.retrieve("thread_doesnotexist"),
        lambda c: c.beta.threads.delete("thread_doesnotexist"),
        lambda c: c.beta.threads.messages.list("thread_doesnotexist"),
        lambda c: c.beta.threads.messages.create("thread_doesnotexist", role="user", content="x"),
        lambda c: c.files.retrieve("file-doesnotexist"),
        lambda c: c.files.content("file-doesnotexist"),
        lambda c: c.files.delete("file-doesnotexist"),
        lambda c: c.uploads.cancel("upload_doesnotexist"),
    ],
    ids=[
        "assistant-retrieve",
        "assistant-update",
        "assistant-delete",
        "thread-retrieve",
        "thread-delete",
        "messages-list",
        "message-create",
        "file-retrieve",
        "file-content",
        "file-delete",
        "upload-cancel",
    ],
)
def test_nonexistent_object_is_404(client, call):
    with pytest.raises(openai.NotFoundError) as info:
        call(client)
    err = info.value
    assert err.status_code == 404
    assert err.type == "invalid_request_error"
    assert err.request_id
    assert isinstance(err.body, dict) and ERROR_KEYS <= set(err.body)


def test_unknown_message_in_existing_thread_is_404(client):
    thread = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve("msg_doesnotexist", thread_id=thread.id)


def test_deleted_object_is_404_for_a_second_client(client_factory, client):
    """A fresh SDK client with the same key sees the same state."""
    assistant = client.beta.assistants.create(model="gpt-4o")
    other = client_factory()
    assert other.beta.assistants.retrieve(assistant.id).id == assistant.id
    client.beta.assistants.delete(assistant.id)
    with pytest.raises(openai.NotFoundError):
        other.beta.assistants.retrieve(assistant.id)


# -- request ids ---------------------------------------------------------------------------


def test_request_ids_are_unique(http):
    ids = set()
    for _ in range(5):
        response = http.get("/v1/assistants", params={"limit": 1}, headers=BETA)
        assert response.status_code == 200
        ids.add(response.headers["x-request-id"])
        response = http.get("/v1/no_such_thing")
        assert response.status_code == 404
        ids.add(response.headers["x-request-id"])
    assert len(ids) == 10
