//! The gRPC scenarios: `ThreadService/CreateMessage` and `ThreadService/ListMessages`
//! over shared HTTP/2 (h2c) channels to the same listener as REST.

use std::time::Duration;

use anyhow::Context;
use assistd_proto::pb;
use pb::thread_service_client::ThreadServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, Endpoint};

use crate::{LIST_LIMIT, Scenario};

/// Connects `n` HTTP/2 channels to `base`; workers are spread over them.
pub async fn connect(base: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(base.to_owned())
        .with_context(|| format!("gRPC endpoint {base}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true);
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        let channel = endpoint.connect().await.with_context(|| format!("connecting a gRPC channel to {base}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// The `authorization` metadata value for `api_key`.
pub fn auth_value(api_key: &str) -> anyhow::Result<AsciiMetadataValue> {
    let mut v: AsciiMetadataValue =
        MetadataValue::try_from(format!("Bearer {api_key}")).context("the API key is not valid gRPC metadata")?;
    v.set_sensitive(true);
    Ok(v)
}

/// A worker's gRPC requester.
pub struct GrpcCaller {
    client: ThreadServiceClient<Channel>,
    create: bool,
    thread_id: String,
    auth: AsciiMetadataValue,
}

impl GrpcCaller {
    /// A requester for a gRPC scenario against `thread_id` over `channel`.
    pub fn new(scenario: Scenario, channel: Channel, thread_id: &str, auth: AsciiMetadataValue) -> Self {
        Self {
            client: ThreadServiceClient::new(channel),
            create: scenario == Scenario::GrpcCreateMessage,
            thread_id: thread_id.to_owned(),
            auth,
        }
    }

    fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.metadata_mut().insert("authorization", self.auth.clone());
        req
    }

    /// Issues one RPC.
    pub async fn call(&mut self, n: u64) -> Result<(), String> {
        let result = if self.create {
            let req = self.request(pb::CreateMessageRequest {
                thread_id: self.thread_id.clone(),
                message: Some(pb::NewMessage {
                    role: pb::MessageRole::User as i32,
                    content: vec![pb::MessageContent {
                        part: Some(pb::message_content::Part::Text(pb::TextContent {
                            value: format!("hello {n}"),
                            annotations: Vec::new(),
                        })),
                    }],
                    attachments: Vec::new(),
                    metadata: None,
                }),
            });
            self.client.create_message(req).await.map(drop)
        } else {
            let req = self.request(pb::ListMessagesRequest {
                thread_id: self.thread_id.clone(),
                page: Some(pb::ListParams { limit: Some(LIST_LIMIT), ..Default::default() }),
                run_id: None,
            });
            self.client.list_messages(req).await.map(drop)
        };
        result.map_err(|s| format!("gRPC {:?}: {}", s.code(), s.message()))
    }
}
