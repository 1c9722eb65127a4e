//! The gRPC API on the shared listener: typed tonic clients, auth metadata, a
//! client-streaming upload and server-streaming download, health, reflection, and
//! one call through gRPC-Web over HTTP/1.1.

mod common;

use assistd_proto::pb;
use common::{KEY, Server, test_databases};
use prost::Message as _;
use tonic::Request;
use tonic::metadata::MetadataValue;

fn authed<T>(msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut().insert("authorization", MetadataValue::try_from(format!("Bearer {KEY}")).unwrap());
    r
}

async fn channel(s: &Server) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(s.base.clone()).unwrap().connect().await.unwrap()
}

#[tokio::test]
async fn grpc_assistants_threads_files() {
    for db in test_databases().await {
        let s = Server::serve(&db);
        let ch = channel(&s).await;
        let mut assistants = pb::assistant_service_client::AssistantServiceClient::new(ch.clone());
        let mut threads = pb::thread_service_client::ThreadServiceClient::new(ch.clone());
        let mut files = pb::file_service_client::FileServiceClient::new(ch.clone());

        // no key: UNAUTHENTICATED with the OpenAI code in the detail
        let err = assistants.list_assistants(Request::new(pb::ListAssistantsRequest::default())).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let detail = assistd_common::error::error_detail(&err).unwrap();
        assert_eq!(detail.code.as_deref(), Some("missing_api_key"));

        let fields = pb::AssistantFields {
            model: Some("m".into()),
            name: Some("grpc".into()),
            temperature: Some(0.25),
            ..Default::default()
        };
        let a = assistants
            .create_assistant(authed(pb::CreateAssistantRequest { assistant: Some(fields) }))
            .await
            .unwrap()
            .into_inner();
        assert!(a.id.starts_with("asst_"));
        assert_eq!(a.temperature, Some(0.25));
        let got = assistants
            .get_assistant(authed(pb::GetAssistantRequest { assistant_id: a.id.clone() }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got, a);
        let m = assistants
            .modify_assistant(authed(pb::ModifyAssistantRequest {
                assistant_id: a.id.clone(),
                assistant: Some(pb::AssistantFields { name: None, ..Default::default() }),
                update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(m.name, None);
        assert_eq!(m.temperature, Some(0.25));

        // invalid argument carries param
        let err = assistants
            .create_assistant(authed(pb::CreateAssistantRequest {
                assistant: Some(pb::AssistantFields {
                    model: Some("m".into()),
                    top_p: Some(1.5),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(assistd_common::error::error_detail(&err).unwrap().param.as_deref(), Some("top_p"));

        let text = |v: &str| pb::MessageContent {
            part: Some(pb::message_content::Part::Text(pb::TextContent { value: v.into(), annotations: vec![] })),
        };
        let t = threads
            .create_thread(authed(pb::CreateThreadRequest {
                messages: vec![pb::NewMessage {
                    role: pb::MessageRole::User as i32,
                    content: vec![text("one")],
                    ..Default::default()
                }],
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        threads
            .create_message(authed(pb::CreateMessageRequest {
                thread_id: t.id.clone(),
                message: Some(pb::NewMessage {
                    role: pb::MessageRole::User as i32,
                    content: vec![text("two")],
                    ..Default::default()
                }),
            }))
            .await
            .unwrap();
        let list = threads
            .list_messages(authed(pb::ListMessagesRequest {
                thread_id: t.id.clone(),
                page: Some(pb::ListParams { order: pb::Order::Asc as i32, ..Default::default() }),
                run_id: None,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(list.data.len(), 2);
        assert_eq!(list.data[1].content[0], text("two"));
        let err =
            threads.get_thread(authed(pb::GetThreadRequest { thread_id: "thread_missing".into() })).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);

        // client-streaming upload, server-streaming download
        let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut msgs = vec![pb::UploadFileRequest {
            part: Some(pb::upload_file_request::Part::Header(pb::UploadFileHeader {
                filename: "g.bin".into(),
                purpose: "assistants".into(),
                ..Default::default()
            })),
        }];
        for c in payload.chunks(64 * 1024) {
            msgs.push(pb::UploadFileRequest { part: Some(pb::upload_file_request::Part::Chunk(c.to_vec())) });
        }
        let f = files.upload_file(authed(tokio_stream::iter(msgs))).await.unwrap().into_inner();
        assert_eq!(f.bytes, payload.len() as i64);
        let mut stream =
            files.download_file(authed(pb::DownloadFileRequest { file_id: f.id.clone() })).await.unwrap().into_inner();
        let mut got = Vec::new();
        let mut saw_info = false;
        while let Some(m) = stream.message().await.unwrap() {
            match m.part {
                Some(pb::download_file_response::Part::Info(i)) => {
                    saw_info = true;
                    assert_eq!(i.id, f.id);
                }
                Some(pb::download_file_response::Part::Chunk(c)) => got.extend(c),
                None => {}
            }
        }
        assert!(saw_info);
        assert_eq!(got, payload);

        // vector stores over gRPC: create with the file, then read it back
        let mut vs = pb::vector_store_service_client::VectorStoreServiceClient::new(ch.clone());
        let err = vs.get_vector_store(authed(pb::GetVectorStoreRequest::default())).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        let req = pb::CreateVectorStoreRequest {
            name: Some("grpc".into()),
            file_ids: vec![f.id.clone()],
            ..Default::default()
        };
        let store = vs.create_vector_store(authed(req)).await.unwrap().into_inner();
        assert_eq!(store.file_counts.as_ref().map(|c| c.total), Some(1));
        let req = pb::GetVectorStoreFileRequest { vector_store_id: store.id.clone(), file_id: f.id.clone() };
        assert_eq!(vs.get_vector_store_file(authed(req)).await.unwrap().into_inner().id, f.id);
    }
}

#[tokio::test]
async fn health_and_reflection_need_no_key() {
    let dbs = test_databases().await;
    let s = Server::serve(&dbs[0]);
    let ch = channel(&s).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    for svc in ["assistd.v1.AssistantService", "assistd.v1.ThreadService", "assistd.v1.FileService"] {
        let r = health.check(tonic_health::pb::HealthCheckRequest { service: svc.into() }).await.unwrap().into_inner();
        assert_eq!(r.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    }
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let mut refl = ServerReflectionClient::new(ch);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut resp = refl.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let msg = resp.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = msg.message_response else {
        panic!("unexpected reflection answer")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for svc in [
        "assistd.v1.AssistantService",
        "assistd.v1.ThreadService",
        "assistd.v1.RunService",
        "assistd.v1.FileService",
        "assistd.v1.VectorStoreService",
    ] {
        assert!(names.iter().any(|n| n == svc), "{svc} missing from {names:?}");
    }
}

#[tokio::test]
async fn grpc_web_over_http1() {
    let dbs = test_databases().await;
    let s = Server::serve(&dbs[0]);
    let req = pb::CreateAssistantRequest {
        assistant: Some(pb::AssistantFields { model: Some("web".into()), ..Default::default() }),
    };
    let body = req.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend((body.len() as u32).to_be_bytes());
    frame.extend(body);
    let client = reqwest::Client::builder().http1_only().build().unwrap();
    let res = client
        .post(s.url("/assistd.v1.AssistantService/CreateAssistant"))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", "http://example.com")
        .bearer_auth(KEY)
        .body(frame)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/grpc-web+proto");
    assert_eq!(res.headers()["access-control-allow-origin"], "http://example.com");
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes[0], 0, "first frame is data");
    let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
    let a = pb::Assistant::decode(&bytes[5..5 + len]).unwrap();
    assert_eq!(a.model, "web");
    assert!(a.id.starts_with("asst_"));
    let trailer = String::from_utf8_lossy(&bytes[5 + len + 5..]).to_string();
    assert!(trailer.contains("grpc-status:0"), "{trailer}");
}
