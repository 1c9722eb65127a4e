//! `/v1/threads/{thread_id}/runs…` and `/v1/threads/runs` ↔ `RunService`.
//!
//! The run engine belongs to a later issue: `RunService` answers UNIMPLEMENTED for
//! now, and these routes pass that on as a 501 in OpenAI's format. Each route calls
//! its own rpc, so the service is the only place that decides.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::Value;

use super::{grpc_request, not_converted, path_param as param, status_error};
use crate::Upstreams;
use crate::errors::ApiResult;
use assistd_proto::pb;

type Params = Path<HashMap<String, String>>;

macro_rules! run_route {
    ($(#[$doc:meta])* $name:ident, $rpc:ident, $what:literal, |$p:ident| $req:expr) => {
        $(#[$doc])*
        pub async fn $name(State(up): State<Upstreams>, headers: HeaderMap, Path($p): Params) -> ApiResult<Json<Value>> {
            let req = $req;
            up.runs().$rpc(grpc_request(&headers, req)).await.map_err(status_error($what))?;
            Err(not_converted($what))
        }
    };
}

run_route!(/// POST /v1/threads/runs
    create_thread_and_run, create_thread_and_run, "POST /v1/threads/runs", |_p| pb::CreateThreadAndRunRequest::default());
run_route!(/// POST /v1/threads/{thread_id}/runs
    create, create_run, "POST /v1/threads/{thread_id}/runs", |p| pb::CreateRunRequest { thread_id: param(&p, "thread_id"), ..Default::default() });
run_route!(/// GET /v1/threads/{thread_id}/runs
    list, list_runs, "GET /v1/threads/{thread_id}/runs", |p| pb::ListRunsRequest { thread_id: param(&p, "thread_id"), ..Default::default() });
run_route!(/// GET /v1/threads/{thread_id}/runs/{run_id}
    retrieve, get_run, "GET /v1/threads/{thread_id}/runs/{run_id}", |p| pb::GetRunRequest { thread_id: param(&p, "thread_id"), run_id: param(&p, "run_id") });
run_route!(/// POST /v1/threads/{thread_id}/runs/{run_id}
    modify, modify_run, "POST /v1/threads/{thread_id}/runs/{run_id}", |p| pb::ModifyRunRequest { thread_id: param(&p, "thread_id"), run_id: param(&p, "run_id"), ..Default::default() });
run_route!(/// POST /v1/threads/{thread_id}/runs/{run_id}/cancel
    cancel, cancel_run, "POST /v1/threads/{thread_id}/runs/{run_id}/cancel", |p| pb::CancelRunRequest { thread_id: param(&p, "thread_id"), run_id: param(&p, "run_id") });
run_route!(/// POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs
    submit_tool_outputs, submit_tool_outputs, "POST /v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", |p| pb::SubmitToolOutputsRequest { thread_id: param(&p, "thread_id"), run_id: param(&p, "run_id"), ..Default::default() });
run_route!(/// GET /v1/threads/{thread_id}/runs/{run_id}/steps
    list_steps, list_run_steps, "GET /v1/threads/{thread_id}/runs/{run_id}/steps", |p| pb::ListRunStepsRequest { thread_id: param(&p, "thread_id"), run_id: param(&p, "run_id"), ..Default::default() });
run_route!(/// GET /v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}
    retrieve_step, get_run_step, "GET /v1/threads/{thread_id}/runs/{run_id}/steps/{step_id}", |p| pb::GetRunStepRequest { thread_id: param(&p, "thread_id"), run_id: param(&p, "run_id"), step_id: param(&p, "step_id"), ..Default::default() });
