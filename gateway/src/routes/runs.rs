//! `/v1/threads/{thread_id}/runs…` and `/v1/threads/runs` ↔ `RunService`.
//!
//! The creating calls (create run, create thread and run, submit tool outputs) answer
//! JSON, or with `"stream": true` call the streaming twin of the rpc and answer
//! server-sent events: `event: <name>` / `data: <compact JSON>` per run event, ending
//! with `event: done` / `data: [DONE]`.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use prost_types::FieldMask;

use super::{grpc_request, status_error};
use crate::errors::{ApiError, ApiResult};
use crate::extract::{IncludeQuery, JsonBody, ListQuery};
use crate::openai::common::{ListOut, metadata_to_pb};
use crate::openai::runs::{
    CreateRunIn, CreateThreadAndRunIn, DONE_DATA, ModifyRunIn, RunOut, RunStepOut, SubmitToolOutputsIn, event_data,
    event_out,
};
use crate::{Upstreams, poll};
use assistd_proto::pb;

/// How often an idle event stream sends a keep-alive comment.
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// POST /v1/threads/runs
pub async fn create_thread_and_run(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateThreadAndRunIn>,
) -> ApiResult<Response> {
    const WHAT: &str = "POST /v1/threads/runs";
    let (req, stream) = body.into_pb()?;
    if stream {
        let res = up.runs().stream_thread_and_run(grpc_request(&headers, req)).await;
        return stream_reply(res, WHAT).await;
    }
    let r = up.runs().create_thread_and_run(grpc_request(&headers, req)).await.map_err(status_error(WHAT))?;
    Ok(Json(RunOut::from(r.into_inner())).into_response())
}

/// POST /v1/threads/{thread_id}/runs
pub async fn create(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    IncludeQuery(include): IncludeQuery,
    JsonBody(body): JsonBody<CreateRunIn>,
) -> ApiResult<Response> {
    const WHAT: &str = "POST /v1/threads/{thread_id}/runs";
    let (req, stream) = body.into_pb(thread_id, include)?;
    if stream {
        let res = up.runs().stream_run(grpc_request(&headers, req)).await;
        return stream_reply(res, WHAT).await;
    }
    let r = up.runs().create_run(grpc_request(&headers, req)).await.map_err(status_error(WHAT))?;
    Ok(Json(RunOut::from(r.into_inner())).into_response())
}

/// GET /v1/threads/{thread_id}/runs
pub async fn list(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path(thread_id): Path<String>,
    q: ListQuery,
) -> ApiResult<Json<ListOut<RunOut>>> {
    let req = pb::ListRunsRequest { thread_id, page: Some(q.page) };
    let r = up
        .runs()
        .list_runs(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/threads/{thread_id}/runs"))?
        .into_inner();
    Ok(Json(ListOut::new(r.data.into_iter().map(RunOut::from).collect(), r.first_id, r.last_id, r.has_more)))
}

/// GET /v1/threads/{thread_id}/runs/{run_id}
pub async fn retrieve(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, run_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let req = pb::GetRunRequest { thread_id, run_id };
    let r = up
        .runs()
        .get_run(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/threads/{thread_id}/runs/{run_id}"))?
        .into_inner();
    Ok(([poll::header(poll::run(r.status))], Json(RunOut::from(r))).into_response())
}

/// POST /v1/threads/{thread_id}/runs/{run_id}
pub async fn modify(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, run_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ModifyRunIn>,
) -> ApiResult<Json<RunOut>> {
    let paths = if body.metadata.is_some() { vec!["metadata".to_owned()] } else { vec![] };
    let req = pb::ModifyRunRequest {
        thread_id,
        run_id,
        metadata: body.metadata.map(metadata_to_pb),
        update_mask: Some(FieldMask { paths }),
    };
    let r = up
        .runs()
        .modify_run(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/threads/{thread_id}/runs/{run_id}"))?;
    Ok(Json(RunOut::from(r.into_inner())))
}

/// POST /v1/threads/{thread_id}/runs/{run_id}/cancel (the body, if any, is ignored:
/// clients send an empty one with `Content-Type: application/json`).
pub async fn cancel(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, run_id)): Path<(String, String)>,
) -> ApiResult<Json<RunOut>> {
    let req = pb::CancelRunRequest { thread_id, run_id };
    let r = up
        .runs()
        .cancel_run(grpc_request(&headers, req))
        .await
        .map_err(status_error("POST /v1/threads/{thread_id}/runs/{run_id}/cancel"))?;
    Ok(Json(RunOut::from(r.into_inner())))
}

/// POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs
pub async fn submit_tool_outputs(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, run_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<SubmitToolOutputsIn>,
) -> ApiResult<Response> {
    const WHAT: &str = "POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs";
    let (req, stream) = body.into_pb(thread_id, run_id);
    if stream {
        let res = up.runs().stream_submit_tool_outputs(grpc_request(&headers, req)).await;
        return stream_reply(res, WHAT).await;
    }
    let r = up.runs().submit_tool_outputs(grpc_request(&headers, req)).await.map_err(status_error(WHAT))?;
    Ok(Json(RunOut::from(r.into_inner())).into_response())
}

/// GET /v1/threads/{thread_id}/runs/{run_id}/steps
pub async fn list_steps(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, run_id)): Path<(String, String)>,
    q: ListQuery,
) -> ApiResult<Json<ListOut<RunStepOut>>> {
    let include = q.include();
    let req = pb::ListRunStepsRequest { thread_id, run_id, page: Some(q.page), include };
    let r = up
        .runs()
        .list_run_steps(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/threads/{thread_id}/runs/{run_id}/steps"))?
        .into_inner();
    Ok(Json(ListOut::new(r.data.into_iter().map(RunStepOut::from).collect(), r.first_id, r.last_id, r.has_more)))
}

/// GET /v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}
pub async fn retrieve_step(
    State(up): State<Upstreams>,
    headers: HeaderMap,
    Path((thread_id, run_id, step_id)): Path<(String, String, String)>,
    IncludeQuery(include): IncludeQuery,
) -> ApiResult<Response> {
    let req = pb::GetRunStepRequest { thread_id, run_id, step_id, include };
    let s = up
        .runs()
        .get_run_step(grpc_request(&headers, req))
        .await
        .map_err(status_error("GET /v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}"))?
        .into_inner();
    Ok(([poll::header(poll::step(s.status))], Json(RunStepOut::from(s))).into_response())
}

/// The reply to a streaming rpc: an error before the first event is a plain JSON
/// error (the service refused the call); otherwise an event stream.
async fn stream_reply<S>(res: Result<tonic::Response<S>, tonic::Status>, what: &'static str) -> ApiResult<Response>
where
    S: Stream<Item = Result<pb::RunEvent, tonic::Status>> + Send + Unpin + 'static,
{
    let mut events = res.map_err(status_error(what))?.into_inner();
    let first = match events.next().await {
        Some(Err(status)) => return Err(ApiError::from_status(&status, what)),
        Some(Ok(ev)) => Some(ev),
        None => None,
    };
    Ok(sse_response(futures::stream::iter(first.map(Ok)).chain(events), what))
}

/// `event: done` / `data: [DONE]`.
fn done_event() -> Event {
    Event::default().event("done").data(DONE_DATA)
}

/// Run events as a `text/event-stream` response (`cache-control: no-cache`, a keep-alive
/// comment every [`SSE_KEEP_ALIVE`]). A failure of the upstream stream becomes an
/// `error` event with a bare `Error` object, followed by `done`; the stream always ends
/// with `done`, and nothing is sent after it.
pub fn sse_response<S>(upstream: S, what: &'static str) -> Response
where
    S: Stream<Item = Result<pb::RunEvent, tonic::Status>> + Send + 'static,
{
    let events = async_stream::stream! {
        let mut upstream = std::pin::pin!(upstream);
        let mut done = false;
        while let Some(item) = upstream.next().await {
            match item {
                Ok(ev) => {
                    let is_done = matches!(ev.payload, Some(pb::run_event::Payload::Done(_)));
                    if let Some((name, data)) = event_out(ev) {
                        yield Ok::<_, Infallible>(Event::default().event(name).data(data));
                    }
                    if is_done {
                        done = true;
                        break;
                    }
                }
                Err(status) => {
                    let bare = ApiError::from_status(&status, what).to_out();
                    yield Ok(Event::default().event("error").data(event_data(&bare)));
                    break;
                }
            }
        }
        if !done {
            yield Ok(done_event());
        }
    };
    Sse::new(events).keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use pb::run_event::Payload;
    use serde_json::Value;

    async fn body_of(res: Response) -> String {
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn ev(event: &str, payload: Payload) -> Result<pb::RunEvent, tonic::Status> {
        Ok(pb::RunEvent { event: event.into(), payload: Some(payload) })
    }

    #[tokio::test]
    async fn sse_wire_format() {
        let upstream = futures::stream::iter(vec![
            ev("thread.run.created", Payload::Run(pb::Run { id: "run_1".into(), ..Default::default() })),
            ev(
                "thread.message.delta",
                Payload::MessageDelta(pb::MessageDelta {
                    id: "msg_1".into(),
                    role: None,
                    content: vec![pb::MessageContentDelta {
                        index: 0,
                        part: Some(pb::message_content_delta::Part::Text(pb::TextDelta {
                            value: Some("Hel\nlo".into()),
                            annotations: vec![],
                        })),
                    }],
                }),
            ),
            ev("done", Payload::Done(pb::Done {})),
            ev("thread.run.completed", Payload::Run(pb::Run::default())),
        ]);
        let res = sse_response(upstream, "test");
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let body = body_of(res).await;
        let blocks: Vec<&str> = body.split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 3, "{body}");
        let run: Value =
            serde_json::from_str(blocks[0].strip_prefix("event: thread.run.created\ndata: ").unwrap()).unwrap();
        assert_eq!((run["id"].as_str(), run["object"].as_str()), (Some("run_1"), Some("thread.run")));
        let data = blocks[1].strip_prefix("event: thread.message.delta\ndata: ").unwrap();
        assert!(!data.contains('\n'));
        assert_eq!(
            serde_json::from_str::<Value>(data).unwrap(),
            serde_json::json!({"id": "msg_1", "object": "thread.message.delta", "delta": {"content": [
                {"index": 0, "type": "text", "text": {"value": "Hel\nlo", "annotations": []}}
            ]}})
        );
        assert_eq!(blocks[2], "event: done\ndata: [DONE]");
    }

    #[tokio::test]
    async fn sse_error_mid_stream() {
        let upstream = futures::stream::iter(vec![
            ev("thread.run.created", Payload::Run(pb::Run::default())),
            Err(tonic::Status::internal("secret")),
        ]);
        let body = body_of(sse_response(upstream, "test")).await;
        let blocks: Vec<&str> = body.split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 3, "{body}");
        let err = blocks[1].strip_prefix("event: error\ndata: ").unwrap();
        let v: Value = serde_json::from_str(err).unwrap();
        assert_eq!(v["type"], "server_error");
        assert!(v.get("param").is_some_and(Value::is_null));
        assert!(v.get("code").is_some());
        assert!(!err.contains("secret"));
        assert_eq!(blocks[2], "event: done\ndata: [DONE]");
    }

    #[tokio::test]
    async fn sse_ends_with_done_when_upstream_does_not() {
        let upstream = futures::stream::iter(vec![ev("thread.run.created", Payload::Run(pb::Run::default()))]);
        let body = body_of(sse_response(upstream, "test")).await;
        assert!(body.ends_with("event: done\ndata: [DONE]\n\n"), "{body}");
    }

    #[tokio::test]
    async fn stream_reply_maps_early_errors() {
        let early: Result<tonic::Response<futures::stream::Iter<std::vec::IntoIter<_>>>, _> =
            Err(tonic::Status::not_found("No thread found with id 'thread_x'."));
        let e = stream_reply(early, "test").await.unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::NOT_FOUND);
        let first_err = Ok(tonic::Response::new(futures::stream::iter(vec![Err::<pb::RunEvent, _>(
            tonic::Status::invalid_argument("bad"),
        )])));
        let e = stream_reply(first_err, "test").await.unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        let ok = Ok(tonic::Response::new(futures::stream::iter(vec![ev("done", Payload::Done(pb::Done {}))])));
        let res = stream_reply(ok, "test").await.unwrap();
        assert_eq!(body_of(res).await, "event: done\ndata: [DONE]\n\n");
    }
}
