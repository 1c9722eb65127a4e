//! Traces: a REST request through the gateway into a service produces spans in one
//! trace, exported with OTLP/gRPC to a collector inside the test, the service span a
//! child of the gateway span (W3C trace context over gRPC metadata).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Launch, call, http};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::json;

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            for ss in rs.scope_spans {
                spans.extend(ss.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// Starts a collector, runs one REST request against a server with `log` as its log
/// filter, stops the server (flushing spans) and returns the spans and the server.
async fn traced_request(log: &str) -> (Vec<Span>, common::Server) {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    let collector_task = tokio::spawn(server);

    let mut s = Launch::serve()
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("http://{addr}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("ASSISTD_LOG_FORMAT", "json")
        .env("ASSISTD_LOG", log)
        .start();
    let (st, _) = call(http().post(s.url("/v1/assistants")).json(&json!({"model": "m"}))).await;
    assert_eq!(st, 200);
    // SIGTERM flushes the exporter
    assert!(s.terminate().success(), "{}", s.logs());
    for _ in 0..50 {
        if collector.spans.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    collector_task.abort();
    let spans = collector.spans.lock().unwrap().clone();
    (spans, s)
}

// multi-threaded: the collector must answer while the test blocks waiting for the server
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_request_traces_into_the_service() {
    let (spans, s) = traced_request("info,assistd_gateway=debug").await;

    let found = {
        let http_span = spans.iter().find(|s| s.name == "POST /v1/assistants");
        let grpc_span = spans.iter().find(|s| s.name == "assistd.v1.AssistantService/CreateAssistant");
        http_span.zip(grpc_span).map(|(h, g)| (h.clone(), g.clone()))
    };
    let (h, g) = found.unwrap_or_else(|| {
        let names: Vec<String> = spans.iter().map(|s| s.name.clone()).collect();
        panic!("spans not exported; got {names:?}; logs:\n{}", s.logs())
    });
    assert_eq!(g.trace_id, h.trace_id, "one trace");
    assert_eq!(g.parent_span_id, h.span_id, "the service span is a child of the gateway span");
    assert!(h.parent_span_id.is_empty(), "the gateway span is the root");
    let attr = |span: &Span, key: &str| span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.clone());
    assert!(attr(&h, "http.route").is_some());
    assert!(attr(&g, "rpc.method").is_some());
    // the JSON log line of the request carries the same trace id
    let hex: String = h.trace_id.iter().map(|b| format!("{b:02x}")).collect();
    let line =
        s.logs().lines().find(|l| l.contains("request finished")).map(str::to_owned).expect("an access log line");
    let log: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(log["span"]["trace_id"], hex.as_str(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_logs_still_export_spans() {
    let (spans, _s) = traced_request("error").await;
    assert!(
        spans.iter().any(|s| s.name == "POST /v1/assistants"),
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
}

/// The split shape: the gateway, the assistants service and the files service are
/// three processes. Creating an assistant whose tool resources name a file makes the
/// assistants service check the file with the files service, so one REST request
/// gives one trace of three spans across three processes: gateway → assistants →
/// files, each a child of the one before, all carrying the request's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_mode_traces_gateway_to_service_to_service() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    let collector_task = tokio::spawn(server);
    let traced = |l: Launch| {
        l.env("OTEL_EXPORTER_OTLP_ENDPOINT", &format!("http://{addr}")).env("OTEL_BSP_SCHEDULE_DELAY", "100").start()
    };

    let mut files = traced(Launch::serve().args(&["--only", "files"]));
    let files_up = format!("files={}", files.base);
    let mut assistants = traced(Launch::serve().args(&["--only", "assistants", "--upstream", &files_up]));
    let assistants_up = format!("assistants={}", assistants.base);
    // the gateway needs an upstream for every service; only these two are called
    let unused = "http://127.0.0.1:9";
    let (threads_up, runs_up, vs_up) =
        (format!("threads={unused}"), format!("runs={unused}"), format!("vector_stores={unused}"));
    let mut gateway = traced(Launch::command(&[
        "gateway",
        "--upstream",
        &assistants_up,
        "--upstream",
        &files_up,
        "--upstream",
        &threads_up,
        "--upstream",
        &runs_up,
        "--upstream",
        &vs_up,
    ]));

    let c = http();
    let form = reqwest::multipart::Form::new()
        .text("purpose", "assistants")
        .part("file", reqwest::multipart::Part::bytes(b"traced".to_vec()).file_name("t.txt"));
    let (st, f) = call(c.post(gateway.url("/v1/files")).multipart(form)).await;
    assert_eq!(st, 200, "{f}");
    let body = json!({"model": "m", "tool_resources": {"code_interpreter": {"file_ids": [f["id"]]}}});
    let res = c.post(gateway.url("/v1/assistants")).bearer_auth(common::KEY).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();

    for s in [&mut gateway, &mut assistants, &mut files] {
        assert!(s.terminate().success(), "{}", s.logs());
    }
    let find =
        |name: &str| collector.spans.lock().unwrap().iter().filter(|s| s.name == name).cloned().collect::<Vec<_>>();
    for _ in 0..50 {
        if !find("assistd.v1.FileService/GetFile").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    collector_task.abort();
    let names: Vec<String> = collector.spans.lock().unwrap().iter().map(|s| s.name.clone()).collect();
    let one = |name: &str| {
        let mut found = find(name);
        assert_eq!(found.len(), 1, "one {name} span; got {names:?}");
        found.remove(0)
    };
    let http_span = one("POST /v1/assistants");
    let create = one("assistd.v1.AssistantService/CreateAssistant");
    let check = one("assistd.v1.FileService/GetFile");
    assert!(http_span.parent_span_id.is_empty(), "the gateway span is the root");
    assert_eq!(create.trace_id, http_span.trace_id, "the assistants service continues the gateway's trace");
    assert_eq!(create.parent_span_id, http_span.span_id);
    assert_eq!(check.trace_id, http_span.trace_id, "the files service continues the same trace");
    assert_eq!(check.parent_span_id, create.span_id);
    let attr = |span: &Span, key: &str| {
        span.attributes.iter().find(|a| a.key == key).and_then(|a| a.value.clone()).and_then(|v| v.value).map(|v| {
            match v {
                opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => s,
                other => format!("{other:?}"),
            }
        })
    };
    for span in [&http_span, &create, &check] {
        assert_eq!(attr(span, "request_id").as_deref(), Some(request_id.as_str()), "{}", span.name);
    }
}
