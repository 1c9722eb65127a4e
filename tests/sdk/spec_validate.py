"""Validate assistd's HTTP responses against the OpenAI OpenAPI document.

The document is ``shared/openai-spec/assistants-openapi.yaml`` (OpenAPI 3.1, but
it still carries the OAS-3.0 keyword ``nullable: true`` in 43 places, which a
JSON-Schema 2020-12 validator would ignore). On load, every ``nullable: true`` is
rewritten into an explicit ``anyOf [..., {type: null}]``, including the
``allOf: [{$ref: X}, {nullable: true}]`` pattern, where the null allowance has to
be lifted to the enclosing schema.

Validation rules (see ``ResponseValidator.validate``):

* only responses under the API base path (``/v1``) are checked;
* every response there must carry a non-empty, never repeated ``x-request-id``;
* an error status (>= 400) must be ``application/json`` and match
  ``components.schemas.ErrorResponse`` (all four keys of ``Error`` required);
* a success whose content type is ``application/json`` must match the 200
  response schema of the operation its method and path map to; an unknown
  operation answering 2xx JSON is a failure too;
* ``GET /files/{file_id}/content`` is raw bytes and is not validated, nor are
  non-JSON successes (``text/event-stream``); use ``validate_stream_event`` for
  the events of a stream.

Documented deviations from the spec that are allowed:

* a list response (``first_id``/``last_id``/``data``) may carry
  ``first_id``/``last_id`` = null when ``data`` is empty, as the real OpenAI
  API did. With a non-empty ``data`` they must be strings;
* ``RunObject.max_prompt_tokens``/``max_completion_tokens`` may be below the
  spec's ``minimum: 256`` (DESIGN.md §7: accepted and echoed as given).
"""

from __future__ import annotations

import copy
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_ENV = "ASSISTD_OPENAPI_SPEC"
SPEC_RELATIVE = Path("shared") / "openai-spec" / "assistants-openapi.yaml"
SPEC_URI = "urn:assistd:openapi"
HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")

# Operations whose 200 body is not JSON, whatever the spec declares.
UNVALIDATED_OPERATIONS = {("get", "/files/{file_id}/content")}

# SSE event name -> schema of its `data` (ENDPOINTS.md, "Server-sent events").
_STREAM_EVENT_SCHEMAS = {
    "thread.created": "ThreadObject",
    "thread.run.step.delta": "RunStepDeltaObject",
    "thread.message.delta": "MessageDeltaObject",
    "error": "Error",
}
_STREAM_EVENT_PREFIXES = (
    ("thread.run.step.", "RunStepObject"),
    ("thread.run.", "RunObject"),
    ("thread.message.", "MessageObject"),
)


# --------------------------------------------------------------------------
# Locating and loading the spec
# --------------------------------------------------------------------------


def find_spec_path() -> Path:
    """The spec file: $ASSISTD_OPENAPI_SPEC, else `shared/openai-spec/...` in
    this directory or the nearest ancestor that has one."""
    explicit = os.environ.get(SPEC_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise FileNotFoundError(f"{SPEC_ENV}={explicit} is not a file")
        return path
    here = Path(__file__).resolve().parent
    for directory in (here, *here.parents):
        candidate = directory / SPEC_RELATIVE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"cannot find {SPEC_RELATIVE} in {here} or any parent directory; "
        f"set {SPEC_ENV} to the path of assistants-openapi.yaml"
    )


_ANNOTATION_KEYS = {
    "description",
    "title",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "default",
    "format",
}


def _is_bare_nullable(schema: Any) -> bool:
    """`{nullable: true}` plus annotations only (the allOf member pattern)."""
    return (
        isinstance(schema, dict)
        and schema.get("nullable") is True
        and all(k == "nullable" or k in _ANNOTATION_KEYS or k.startswith("x-") for k in schema)
    )


def _with_null(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def convert_nullable(node: Any) -> Any:
    """Return a copy of `node` with OAS-3.0 `nullable: true` made explicit.

    Applied to the whole document; only dicts that carry `nullable` (or an
    `allOf` with a bare-nullable member) change. Example payloads are left
    alone (`example`, `examples`, `default`, `enum`, `const`, `x-*`).
    """
    if isinstance(node, list):
        return [convert_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node

    out: dict = {}
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs", "schemas") and isinstance(value, dict):
            # name -> schema maps: the names are data, never keywords
            out[key] = {name: convert_nullable(sub) for name, sub in value.items()}
        elif key in ("example", "examples", "default", "enum", "const") or key.startswith("x-"):
            out[key] = value
        else:
            out[key] = convert_nullable(value)

    nullable = False
    if out.get("nullable") is True:
        nullable = True
    out.pop("nullable", None)

    all_of = out.get("allOf")
    if isinstance(all_of, list) and any(_is_bare_nullable(m) for m in node["allOf"]):
        # The members were converted above; drop the ones that were only
        # `{nullable: true}` (they became `anyOf [{}, null]`, always valid)
        # and lift the null allowance to this schema.
        kept = [
            converted
            for original, converted in zip(node["allOf"], all_of)
            if not _is_bare_nullable(original)
        ]
        out["allOf"] = kept
        nullable = True

    if nullable:
        return _with_null(out)
    return out


def _relax_empty_list_ids(schemas: dict) -> None:
    """The documented deviation: `first_id`/`last_id` may be null when `data`
    is empty. Rewrites every list schema (properties data/first_id/last_id) in
    place."""
    for name, schema in list(schemas.items()):
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict):
            continue
        if not {"data", "first_id", "last_id"} <= props.keys():
            continue
        relaxed = copy.deepcopy(schema)
        strict_ids = {k: relaxed["properties"][k] for k in ("first_id", "last_id")}
        for key in ("first_id", "last_id"):
            relaxed["properties"][key] = _with_null(relaxed["properties"][key])
        schemas[name] = {
            "allOf": [
                relaxed,
                {
                    "if": {"properties": {"data": {"maxItems": 0}}, "required": ["data"]},
                    "then": True,
                    "else": {"properties": strict_ids},
                },
            ]
        }


def _allow_small_token_limits(schemas: dict) -> None:
    """DESIGN.md §7: `max_prompt_tokens`/`max_completion_tokens` below the
    documented minimum of 256 are accepted (shipped clients send 200 and OpenAI
    took it) and echoed as given, so the run object may carry them."""
    if "RunObject" not in schemas:
        return
    props = schemas["RunObject"]["properties"]
    for key in ("max_prompt_tokens", "max_completion_tokens"):
        _drop_minimum(props[key])


def _drop_minimum(node: Any) -> None:
    if isinstance(node, dict):
        node.pop("minimum", None)
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                _drop_minimum(sub)


@lru_cache(maxsize=None)
def load_spec(path: str | None = None) -> "Spec":
    return Spec(Path(path) if path else find_spec_path())


RESPONSES_SPEC_RELATIVE = Path("docs") / "spec" / "responses-openapi.yaml"


@lru_cache(maxsize=None)
def load_responses_spec() -> "Spec":
    """The Responses and Conversations contract (docs/spec/responses-openapi.yaml in
    this repository, pruned from the official document)."""
    here = Path(__file__).resolve().parent
    for directory in (here, *here.parents):
        candidate = directory / RESPONSES_SPEC_RELATIVE
        if candidate.is_file():
            return Spec(candidate)
    raise FileNotFoundError(f"cannot find {RESPONSES_SPEC_RELATIVE} above {here}")


# --------------------------------------------------------------------------
# The spec, operations and validators
# --------------------------------------------------------------------------


def _pointer_escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Operation:
    def __init__(self, method: str, template: str, op: dict):
        self.method = method
        self.template = template
        self.operation_id = op.get("operationId", f"{method} {template}")
        segments = template.strip("/").split("/")
        self.literal_segments = sum(1 for s in segments if not s.startswith("{"))
        pattern = "".join(
            "/[^/]+" if s.startswith("{") and s.endswith("}") else "/" + re.escape(s)
            for s in segments
        )
        self.regex = re.compile("^" + pattern + "/?$")
        content = (op.get("responses", {}).get("200", {}) or {}).get("content", {})
        self.json_200 = "application/json" in content
        self.pointer = (
            f"#/paths/{_pointer_escape(template)}/{method}/responses/200/content/"
            f"{_pointer_escape('application/json')}/schema"
        )

    def __repr__(self) -> str:
        return f"{self.method.upper()} {self.template} ({self.operation_id})"


class Spec:
    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as fh:
            raw = yaml.safe_load(fh)
        doc = convert_nullable(raw)
        _relax_empty_list_ids(doc["components"]["schemas"])
        _allow_small_token_limits(doc["components"]["schemas"])
        self.document = doc
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self.operations: list[Operation] = []
        for template, item in doc["paths"].items():
            for method, op in item.items():
                if method in HTTP_METHODS:
                    self.operations.append(Operation(method, template, op))
        self._validators: dict[str, Draft202012Validator] = {}

    # -- lookup ---------------------------------------------------------------

    def schema_names(self) -> Iterable[str]:
        return self.document["components"]["schemas"].keys()

    def match(self, method: str, path: str) -> tuple[Operation | None, bool]:
        """(operation, path_known). Literal segments win over parameters, so
        `/threads/runs` is createThreadAndRun, not `/threads/{thread_id}`."""
        method = method.lower()
        candidates = [op for op in self.operations if op.regex.match(path)]
        if not candidates:
            return None, False
        with_method = [op for op in candidates if op.method == method]
        if not with_method:
            return None, True
        with_method.sort(key=lambda op: op.literal_segments, reverse=True)
        return with_method[0], True

    # -- validation -------------------------------------------------------------

    def validator_for_pointer(self, pointer: str) -> Draft202012Validator:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=self.registry)
            self._validators[pointer] = validator
        return validator

    def validator_for_schema(self, name: str) -> Draft202012Validator:
        if name not in self.document["components"]["schemas"]:
            raise KeyError(f"no schema components.schemas.{name} in {self.path}")
        return self.validator_for_pointer(f"#/components/schemas/{_pointer_escape(name)}")

    def check(self, validator: Draft202012Validator, instance: Any, what: str) -> None:
        __tracebackhide__ = True
        errors = list(validator.iter_errors(instance))
        if not errors:
            return
        raise AssertionError(format_errors(what, instance, errors))

    def validate_schema(self, name: str, instance: Any, what: str | None = None) -> None:
        __tracebackhide__ = True
        self.check(self.validator_for_schema(name), instance, what or f"instance of {name}")

    def validate_operation_response(self, op: Operation, instance: Any, what: str) -> None:
        __tracebackhide__ = True
        self.check(self.validator_for_pointer(op.pointer), instance, f"{what} ({op.operation_id})")


def _json_path(error: ValidationError) -> str:
    out = "$"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(error: ValidationError, depth: int = 0) -> list[str]:
    schema_path = "/".join(str(p) for p in error.absolute_schema_path)
    lines = [
        f"{'  ' * depth}- at {_json_path(error)}: {error.message}",
        f"{'  ' * depth}  schema path: {schema_path}",
    ]
    if error.context and depth < 4:
        branch, sub_errors = _closest_branch(error.context)
        lines.append(f"{'  ' * depth}  closest alternative (branch {branch}):")
        for sub in sub_errors[:3]:
            lines.extend(_describe(sub, depth + 2))
    return lines


def _closest_branch(context: list[ValidationError]) -> tuple[Any, list[ValidationError]]:
    """For a failed oneOf/anyOf, the alternative that got furthest: the branch
    whose shallowest error is deepest (a discriminator mismatch such as
    `type: 'function' is not one of ['code_interpreter']` is shallow), then
    the one with the fewest errors."""
    branches: dict[Any, list[ValidationError]] = {}
    for err in context:
        key = err.relative_schema_path[0] if err.relative_schema_path else None
        branches.setdefault(key, []).append(err)

    def rank(item: tuple[Any, list[ValidationError]]) -> tuple[int, int]:
        errs = item[1]
        return (min(len(e.absolute_path) for e in errs), -len(errs))

    branch, errs = max(branches.items(), key=rank)
    if len(branches) == 1:
        best = best_match(errs)
        errs = [best] if best is not None else errs
    return branch, errs


def format_errors(what: str, instance: Any, errors: list[ValidationError]) -> str:
    errors = sorted(errors, key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    lines = [f"{what} does not match the OpenAPI spec ({len(errors)} error(s)):"]
    for error in errors[:10]:
        lines.extend(_describe(error))
    body = json.dumps(instance, ensure_ascii=False)
    if len(body) > 2000:
        body = body[:2000] + "…"
    lines.append(f"body: {body}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# httpx response hook
# --------------------------------------------------------------------------


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class ResponseValidator:
    """An httpx(2) `response` event hook: `Client(event_hooks={"response": [v]})`.

    Raises AssertionError on a non-conforming response; the SDK lets it
    propagate unchanged (it is not an httpx error), so the calling test fails.
    """

    def __init__(self, base_path: str = "/v1", spec: Spec | None = None):
        self.base_path = "/" + base_path.strip("/")
        self.spec = spec or load_spec()
        # the Assistants-era document, then the Responses/Conversations one
        self.specs = [self.spec] if spec else [self.spec, load_responses_spec()]
        self.seen_request_ids: set[str] = set()
        self.validated = 0

    def __call__(self, response: Any) -> None:
        __tracebackhide__ = True
        request = response.request
        path = urlsplit(str(request.url)).path
        if path != self.base_path and not path.startswith(self.base_path + "/"):
            return
        api_path = path[len(self.base_path):] or "/"
        what = f"{request.method} {path} -> {response.status_code}"

        request_id = response.headers.get("x-request-id", "")
        assert request_id.strip(), f"{what}: missing or empty x-request-id header"
        assert request_id not in self.seen_request_ids, f"{what}: x-request-id {request_id!r} was already used"
        self.seen_request_ids.add(request_id)

        content_type = response.headers.get("content-type", "")
        status = response.status_code

        if status >= 400:
            assert _is_json(content_type), f"{what}: error response has content-type {content_type!r}, expected application/json"
            body = self._json(response, what)
            self.spec.validate_schema("ErrorResponse", body, what)
            self.validated += 1
            return

        op, path_known, spec = None, False, self.spec
        for candidate in self.specs:
            found, known = candidate.match(request.method, api_path)
            path_known = path_known or known
            if found is not None:
                op, spec = found, candidate
                break
        if op is not None and (op.method, op.template) in UNVALIDATED_OPERATIONS:
            return
        if not _is_json(content_type):
            return
        body = self._json(response, what)
        if op is None:
            reason = "an unknown method for this path" if path_known else "a path not in the spec"
            raise AssertionError(f"{what}: 2xx JSON response for {reason}: {json.dumps(body)[:500]}")
        if 200 <= status < 300 and op.json_200:
            spec.validate_operation_response(op, body, what)
            self.validated += 1

    @staticmethod
    def _json(response: Any, what: str) -> Any:
        __tracebackhide__ = True
        response.read()
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise AssertionError(f"{what}: body is not valid JSON ({exc}): {response.content[:300]!r}") from None


def validate_stream_event(event: str, data: Any, spec: Spec | None = None) -> None:
    """Validate one SSE event's parsed `data` against the schema its `event:`
    name implies (`done` carries the literal `[DONE]`, not JSON)."""
    __tracebackhide__ = True
    spec = spec or load_spec()
    if event == "done":
        assert data == "[DONE]", f"event: done must carry data [DONE], got {data!r}"
        return
    name = _STREAM_EVENT_SCHEMAS.get(event)
    if name is None:
        for prefix, schema in _STREAM_EVENT_PREFIXES:
            if event.startswith(prefix):
                name = schema
                break
    if name is None:
        raise AssertionError(f"unknown stream event {event!r}")
    spec.validate_schema(name, data, f"stream event {event}")


@lru_cache(maxsize=None)
def _response_event_schemas() -> dict[str, str]:
    """Responses API event `type` -> schema name, from `ResponseStreamEvent`."""
    spec = load_responses_spec()
    schemas = spec.document["components"]["schemas"]
    out: dict[str, str] = {}
    for ref in schemas["ResponseStreamEvent"]["anyOf"]:
        name = ref["$ref"].rsplit("/", 1)[1]
        kind = schemas[name].get("properties", {}).get("type", {})
        for value in kind.get("enum", []):
            out[value] = name
    return out


def validate_response_event(event: str, data: Any) -> None:
    """Validate one Responses API SSE event: its `event:` name equals its `type`, and
    its data matches the `ResponseStreamEvent` member for that type."""
    __tracebackhide__ = True
    assert isinstance(data, dict), f"event {event}: data is not an object: {data!r}"
    assert data.get("type") == event, f"event {event!r} carries type {data.get('type')!r}"
    name = _response_event_schemas().get(event)
    if name is None:
        raise AssertionError(f"unknown Responses stream event {event!r}")
    load_responses_spec().validate_schema(name, data, f"stream event {event}")
