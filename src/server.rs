//! Wiring: the five services behind one listener (REST, gRPC, gRPC-Web, health,
//! reflection), in one process or split.

use std::net::SocketAddr;

use anyhow::Context;
use assistd_common::channel::{ChannelError, GrpcChannel};
use assistd_common::files_ref::FileRefs;
use assistd_common::vector_stores_ref::VectorStoreRefs;
use assistd_common::{Authenticator, db};
use assistd_gateway::Upstreams;
use assistd_migrations::Service as Migrated;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self as mw, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sea_orm::DatabaseConnection;
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::config::Settings;

/// The services, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceName {
    /// AssistantService.
    Assistants,
    /// ThreadService.
    Threads,
    /// RunService.
    Runs,
    /// FileService.
    Files,
    /// VectorStoreService.
    #[value(name = "vector_stores", alias = "vector-stores")]
    VectorStores,
    /// SandboxService (code_interpreter's sessions).
    Sandbox,
    /// ConversationService.
    Conversations,
    /// ResponseService.
    Responses,
}

impl ServiceName {
    /// Every service.
    pub const ALL: [ServiceName; 8] = [
        Self::Assistants,
        Self::Threads,
        Self::Runs,
        Self::Files,
        Self::VectorStores,
        Self::Sandbox,
        Self::Conversations,
        Self::Responses,
    ];

    /// `only`, or every service when it is empty (as `--only` is read).
    pub fn or_all(only: &[ServiceName]) -> Vec<ServiceName> {
        if only.is_empty() { Self::ALL.to_vec() } else { only.to_vec() }
    }

    /// The gRPC service name.
    pub fn grpc_name(self) -> &'static str {
        match self {
            Self::Assistants => "assistd.v1.AssistantService",
            Self::Threads => "assistd.v1.ThreadService",
            Self::Runs => "assistd.v1.RunService",
            Self::Files => "assistd.v1.FileService",
            Self::VectorStores => "assistd.v1.VectorStoreService",
            Self::Sandbox => "assistd.v1.SandboxService",
            Self::Conversations => "assistd.v1.ConversationService",
            Self::Responses => "assistd.v1.ResponseService",
        }
    }

    /// The tables this service owns.
    pub fn migrations(self) -> &'static [Migrated] {
        match self {
            Self::Assistants => &[Migrated::Assistants],
            Self::Threads => &[Migrated::Threads],
            Self::Files => &[Migrated::Files],
            Self::Runs => &[Migrated::Runs],
            Self::VectorStores => &[Migrated::VectorStores],
            Self::Sandbox => &[],
            Self::Conversations => &[Migrated::Conversations],
            Self::Responses => &[Migrated::Responses],
        }
    }

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Assistants => "assistants",
            Self::Threads => "threads",
            Self::Runs => "runs",
            Self::Files => "files",
            Self::VectorStores => "vector_stores",
            Self::Sandbox => "sandbox",
            Self::Conversations => "conversations",
            Self::Responses => "responses",
        }
    }

    /// Parses `assistants`, `threads`, `runs`, `files`, `vector_stores`, `sandbox`, `conversations`, `responses`.
    pub fn parse(s: &str) -> Option<Self> {
        <Self as clap::ValueEnum>::from_str(s, true).ok()
    }
}

/// What `/readyz` checks: each database and its migrations, and the vector index.
#[derive(Clone, Default)]
pub struct Readiness {
    dbs: Vec<(DatabaseConnection, Vec<Migrated>)>,
    index: Option<std::sync::Arc<dyn assistd_vector_stores::index::VectorIndex>>,
}

impl Readiness {
    /// Also checks `db` and the migrations of `services`.
    pub fn with(mut self, db: DatabaseConnection, services: Vec<Migrated>) -> Self {
        self.dbs.push((db, services));
        self
    }

    /// Also checks the vector index (when the vector stores service is hosted here).
    pub fn with_index(mut self, index: Option<std::sync::Arc<dyn assistd_vector_stores::index::VectorIndex>>) -> Self {
        self.index = index;
        self
    }
}

/// How long `/readyz` waits for each check before it answers 503.
pub const READY_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn unready(reason: String) -> Response {
    let body = axum::Json(serde_json::json!({"status": "unavailable", "reason": reason}));
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], body).into_response()
}

/// Runs one readiness check within [`READY_CHECK_TIMEOUT`]; `what` names it.
async fn check<T, E: std::fmt::Display>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Response> {
    match tokio::time::timeout(READY_CHECK_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(unready(format!("{what}: {e}"))),
        Err(_) => Err(unready(format!("{what}: no answer within {}s", READY_CHECK_TIMEOUT.as_secs()))),
    }
}

/// 200 when every database answers with its migrations applied and the vector index
/// is healthy; otherwise 503 (with `Retry-After`), always within a few seconds.
async fn readyz(State(r): State<Readiness>) -> Response {
    match ready(&r).await {
        Ok(()) => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(res) => res,
    }
}

async fn ready(r: &Readiness) -> Result<(), Response> {
    for (db, services) in &r.dbs {
        check("database", db.ping()).await?;
        for s in services {
            if !check("migrations", assistd_migrations::applied(db, *s)).await? {
                return Err(unready(format!("migrations of {s:?} pending")));
            }
        }
    }
    if let Some(index) = &r.index {
        check("vector index", index.health()).await?;
    }
    Ok(())
}

/// Attaches the caller's project to every gRPC request, or answers UNAUTHENTICATED.
/// Health and reflection need no key.
async fn grpc_auth(State(auth): State<Authenticator>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.") {
        return next.run(req).await;
    }
    // A call made inside this process (the runs engine acting for a run's project)
    // carries its project already; no network request can put one there.
    if req.extensions().get::<assistd_common::Project>().is_some() {
        return next.run(req).await;
    }
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let internal_project = req.headers().get(assistd_common::auth::PROJECT_HEADER).and_then(|v| v.to_str().ok());
    if let Some(project) = auth.internal(header, internal_project) {
        req.extensions_mut().insert(project);
        return next.run(req).await;
    }
    match auth.authenticate(header).await {
        Ok(project) => {
            req.extensions_mut().insert(project);
            next.run(req).await
        }
        Err(e) => tonic::Status::from(e).into_http::<axum::body::Body>(),
    }
}

/// A router as an in-process channel: no sockets, no HTTP/2 framing.
pub fn in_process(router: Router) -> GrpcChannel {
    assistd_common::channel::in_process(router)
}

/// A network channel to `url` (connected lazily, reconnecting as needed).
pub fn network(url: &str) -> anyhow::Result<GrpcChannel> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("invalid upstream url {url}"))?
        .connect_lazy();
    let svc = ServiceBuilder::new().map_err(|e: tonic::transport::Error| ChannelError(Box::new(e))).service(channel);
    Ok(BoxCloneSyncService::new(svc))
}

/// Opens the database and applies the migrations of `services` (and of the key store).
pub async fn open_db(settings: &Settings, services: &[ServiceName]) -> anyhow::Result<DatabaseConnection> {
    if db::is_sqlite(&settings.database_url) {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
    }
    let conn = db::connect(&settings.database_url)
        .await
        .with_context(|| format!("connecting to {}", redact(&settings.database_url)))?;
    assistd_migrations::up(&conn, Migrated::Auth).await.context("migrating auth")?;
    for s in services {
        for m in s.migrations() {
            assistd_migrations::up(&conn, *m).await.with_context(|| format!("migrating {m:?}"))?;
        }
    }
    Ok(conn)
}

/// The URL with any password hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// What [`grpc_router`] built.
pub struct Grpc {
    /// The services with auth, health and reflection.
    pub router: Router,
    /// Whether auth is on.
    pub auth_on: bool,
    /// The run engine, when the runs service is hosted here.
    pub engine: Option<assistd_runs::Engine>,
    /// The responses service's operations (background workers), when hosted here.
    pub responses: Option<assistd_responses::Responses>,
    /// The ingestion workers, when the vector stores service is hosted here.
    pub ingestor: Option<assistd_vector_stores::worker::Ingestor>,
    /// The vector index, when the vector stores service is hosted here.
    pub index: Option<std::sync::Arc<dyn assistd_vector_stores::index::VectorIndex>>,
}

/// Where a service is reached from this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Hosted here: called in process.
    Here,
    /// At an upstream (`--upstream NAME=URL`).
    Remote(String),
    /// Neither: what needs it fails clearly, or does without.
    Absent,
}

/// Where every service is, decided once from the services hosted and the upstreams.
#[derive(Debug, Clone)]
pub struct Placement {
    hosted: Vec<ServiceName>,
    remote: Vec<(ServiceName, String)>,
}

impl Placement {
    /// `hosted` here, the others at their upstream in `remote` when they have one.
    pub fn new(hosted: &[ServiceName], remote: &[(ServiceName, String)]) -> Self {
        Self { hosted: hosted.to_vec(), remote: remote.to_vec() }
    }

    /// Where `name` is.
    pub fn of(&self, name: ServiceName) -> Place {
        if self.hosts(name) {
            return Place::Here;
        }
        match self.remote.iter().find(|(n, _)| *n == name) {
            Some((_, url)) => Place::Remote(url.clone()),
            None => Place::Absent,
        }
    }

    /// Whether `name` is hosted here.
    pub fn hosts(&self, name: ServiceName) -> bool {
        self.hosted.contains(&name)
    }
}

/// The channel to each service that is reachable, built in the order the services
/// depend on each other (files, vector stores, assistants and threads, runs): a hosted
/// service is added with its router (called in process, through the same auth and
/// observation layers as a network call), a remote one by its URL.
struct Channels {
    placement: Placement,
    guard: Box<dyn Fn(Router) -> Router + Send + Sync>,
    reached: Vec<(ServiceName, GrpcChannel)>,
}

impl Channels {
    /// Adds the channel to `name`: in process to `hosted` (its router) when it is
    /// hosted here, else at its upstream, else none.
    fn reach(&mut self, name: ServiceName, hosted: Option<Router>) -> anyhow::Result<()> {
        let channel = match (self.placement.of(name), hosted) {
            (Place::Here, Some(router)) => in_process((self.guard)(router)),
            (Place::Here, None) => anyhow::bail!("the {} service is hosted here but was not built", name.name()),
            (Place::Remote(url), _) => network(&url)?,
            (Place::Absent, _) => return Ok(()),
        };
        self.reached.push((name, channel));
        Ok(())
    }

    /// The channel to `name`, if it is reachable.
    fn get(&self, name: ServiceName) -> Option<GrpcChannel> {
        self.reached.iter().find(|(n, _)| *n == name).map(|(_, c)| c.clone())
    }

    /// The channel to `name`, which `user` cannot work without.
    fn require(&self, user: ServiceName, name: ServiceName) -> anyhow::Result<GrpcChannel> {
        self.get(name).with_context(|| {
            format!("the {} service needs --upstream {1}=URL (the {1} service)", user.name(), name.name())
        })
    }
}

fn router_of<S>(server: S) -> Router
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + tonic::server::NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    tonic::service::Routes::new(server).into_axum_router()
}

/// The gRPC router of `services`, with auth, plus health and reflection. Where each
/// service is (here, at an upstream, absent) is decided once, by [`Placement`]; the
/// services are built in dependency order, each given the channels of the peers it
/// calls, then mounted.
pub async fn grpc_router(
    settings: &Settings,
    services: &[ServiceName],
    conn: &DatabaseConnection,
    remote: &[(ServiceName, String)],
) -> anyhow::Result<Grpc> {
    let auth = Authenticator::new(&settings.api_keys, Some(conn.clone())).await.context("loading api keys")?;
    if !auth.enabled() {
        tracing::warn!(
            "no API key is configured: authentication is off (set ASSISTD_API_KEYS or run `assistd keys create`)"
        );
    }
    let max = assistd_common::channel::MAX_GRPC_MESSAGE;
    let auth_layer = mw::from_fn_with_state(auth.clone(), grpc_auth);
    let observe_layer = mw::from_fn(assistd_common::observe::grpc_observe);
    // The services' router, with auth and observation, as both the in-process
    // channels and the served router use it.
    let guarded = move |router: Router| router.layer(auth_layer.clone()).layer(observe_layer.clone());
    let placement = Placement::new(services, remote);
    let internal_token = || assistd_common::auth::internal_token(&settings.api_keys);
    let mut channels = Channels { placement: placement.clone(), guard: Box::new(guarded.clone()), reached: vec![] };

    // Files: the others check file references (and vector stores read files) through it.
    let files = if placement.hosts(ServiceName::Files) {
        let blobs = assistd_files::blobs::Blobs::open(&settings.object_store).map_err(anyhow::Error::msg)?;
        let ops = assistd_files::Files::new(assistd_files::store::Store::new(conn.clone()), blobs);
        let files = assistd_files::FilesService::new(ops);
        files.clone().spawn_sweeper(std::time::Duration::from_secs(60));
        Some(files)
    } else {
        None
    };
    channels.reach(ServiceName::Files, files.clone().map(|f| router_of(f.into_server())))?;
    let file_refs = match channels.get(ServiceName::Files) {
        Some(c) => FileRefs::new(c),
        None => {
            if services.iter().any(|s| matches!(s, ServiceName::Assistants | ServiceName::Threads)) {
                tracing::warn!(
                    "files service not reachable (no --upstream files=URL): file ids in messages and tool resources are not checked"
                );
            }
            FileRefs::unchecked()
        }
    };

    // Vector stores: read files through the files service and index them with their
    // own workers in this process.
    let vector_stores = if placement.hosts(ServiceName::VectorStores) {
        let files_channel = channels.require(ServiceName::VectorStores, ServiceName::Files)?;
        let files = assistd_vector_stores::peers::Files::new(files_channel).with_internal_token(internal_token());
        let embedder = crate::vectors::embedder(settings).await?;
        let index = crate::vectors::index(settings, embedder.as_ref()).await?;
        let store = assistd_vector_stores::store::Store::new(conn.clone());
        let ingestor = assistd_vector_stores::worker::Ingestor::new(
            store.clone(),
            files.clone(),
            index.clone(),
            embedder.clone(),
            settings.ingest.clone(),
        );
        let searcher = assistd_vector_stores::search::Searcher::new(index, embedder);
        let ops = assistd_vector_stores::VectorStores::new(store, files, ingestor.clone(), searcher);
        Some((assistd_vector_stores::VectorStoresService::new(ops), ingestor))
    } else {
        None
    };
    channels
        .reach(ServiceName::VectorStores, vector_stores.as_ref().map(|(v, _)| router_of(v.clone().into_server())))?;
    // Assistants and threads make vector stores (the tool_resources helper, the
    // thread's store for attachments) through the vector stores service.
    let vs_refs =
        channels.get(ServiceName::VectorStores).map_or_else(VectorStoreRefs::unavailable, VectorStoreRefs::new);

    let assistants = placement.hosts(ServiceName::Assistants).then(|| {
        assistd_assistants::AssistantsService::new(
            assistd_assistants::Assistants::new(assistd_assistants::store::Store::new(conn.clone()))
                .with_file_refs(file_refs.clone())
                .with_vector_stores(vs_refs.clone()),
        )
    });
    channels.reach(ServiceName::Assistants, assistants.clone().map(|a| router_of(a.into_server())))?;
    let threads = placement.hosts(ServiceName::Threads).then(|| {
        assistd_threads::ThreadsService::new(
            assistd_threads::Threads::new(assistd_threads::store::Store::new(conn.clone()))
                .with_file_refs(file_refs.clone())
                .with_vector_stores(vs_refs.clone()),
        )
    });
    channels.reach(ServiceName::Threads, threads.clone().map(|t| router_of(t.into_server())))?;
    let conversations = placement.hosts(ServiceName::Conversations).then(|| {
        assistd_conversations::ConversationsService::new(assistd_conversations::Conversations::new(
            assistd_conversations::store::Store::new(conn.clone()),
        ))
    });
    channels.reach(ServiceName::Conversations, conversations.clone().map(|c| router_of(c.into_server())))?;

    // The sandbox: code_interpreter's sessions, in bubblewrap here.
    let sandbox = placement.hosts(ServiceName::Sandbox).then(|| {
        let s = &settings.sandbox;
        let local = assistd_sandbox::local::LocalSandbox::new(None, &s.python, s.limits.clone());
        assistd_sandbox::grpc::SandboxServer::new(std::sync::Arc::new(local))
    });
    channels.reach(ServiceName::Sandbox, sandbox.clone().map(|s| router_of(s.into_server())))?;

    // The model backends and the model map, built once for runs and responses.
    let models = if placement.hosts(ServiceName::Runs) || placement.hosts(ServiceName::Responses) {
        Some(crate::models::models(settings).await?)
    } else {
        None
    };

    // Runs: the engine calls the assistants and threads services, the vector stores
    // service for file_search and the sandbox for code_interpreter.
    let engine = if placement.hosts(ServiceName::Runs) {
        let peers = assistd_runs::peers::Peers::new(
            channels.require(ServiceName::Runs, ServiceName::Assistants)?,
            channels.require(ServiceName::Runs, ServiceName::Threads)?,
        )
        .with_internal_token(internal_token());
        // file_search needs the vector stores service; without it runs fail that call.
        let peers = match channels.get(ServiceName::VectorStores) {
            Some(c) => peers.with_vector_stores(c),
            None => {
                tracing::warn!(
                    "vector stores service not reachable (no --upstream vector_stores=URL): runs cannot use file_search"
                );
                peers
            }
        };
        // code_interpreter reads and writes files through the files service.
        let peers = match channels.get(ServiceName::Files) {
            Some(c) => peers.with_files(c),
            None => peers,
        };
        let peers = match channels.get(ServiceName::Sandbox) {
            Some(c) => peers.with_sandbox(std::sync::Arc::new(assistd_sandbox::remote::RemoteSandbox::new(
                c,
                assistd_common::caller::internal_authorization(internal_token()),
            ))),
            None => {
                if settings.sandbox.mode == crate::config::SandboxMode::Remote {
                    anyhow::bail!("ASSISTD_SANDBOX=remote needs --upstream sandbox=URL (the sandbox service)");
                }
                tracing::warn!("no sandbox (ASSISTD_SANDBOX=off): runs cannot use code_interpreter");
                peers
            }
        };
        Some(assistd_runs::Engine::new(
            assistd_runs::store::Store::new(conn.clone()),
            peers,
            models.clone().unwrap_or_else(assistd_runs::Models::none),
            settings.engine.clone(),
        ))
    } else {
        None
    };

    // Responses: the conversations service gives a response's context and keeps its
    // items; the vector stores service answers file_search.
    let responses = placement.hosts(ServiceName::Responses).then(|| {
        let conversations = match channels.get(ServiceName::Conversations) {
            Some(c) => Some(assistd_responses::peers::ConversationPeer::new(
                c,
                assistd_common::caller::internal_authorization(internal_token()),
            )),
            None => {
                tracing::warn!(
                    "conversations service not reachable (no --upstream conversations=URL): responses cannot use conversations"
                );
                None
            }
        };
        let queue = assistd_responses::ops::QueueConfig {
            lease: settings.engine.lease,
            poll: settings.engine.poll,
            concurrency: settings.engine.concurrency,
        };
        let mut ops = assistd_responses::Responses::new(
            assistd_responses::store::Store::new(conn.clone()),
            models.clone().unwrap_or_else(assistd_runs::Models::none),
            conversations,
        )
        .with_queue(queue);
        // code_interpreter runs in the sandbox, its files through the files service
        if let Some(c) = channels.get(ServiceName::Sandbox) {
            ops = ops.with_sandbox(std::sync::Arc::new(assistd_sandbox::remote::RemoteSandbox::new(
                c,
                assistd_common::caller::internal_authorization(internal_token()),
            )));
        }
        if let Some(c) = channels.get(ServiceName::Files) {
            ops = ops.with_files(
                assistd_common::files_client::Files::new(c)
                    .with_internal_authorization(assistd_common::caller::internal_authorization(internal_token())),
            );
        }
        // file_search searches through the vector stores service
        match channels.get(ServiceName::VectorStores) {
            Some(c) => {
                ops = ops.with_vector_stores(assistd_responses::peers::VectorStorePeer::new(
                    c,
                    assistd_common::caller::internal_authorization(internal_token()),
                ))
            }
            None => tracing::warn!(
                "vector stores service not reachable (no --upstream vector_stores=URL): responses cannot use file_search"
            ),
        }
        assistd_responses::ResponsesService::new(ops)
    });

    // Mount what is hosted here.
    let mut routes = tonic::service::Routes::default();
    macro_rules! mount {
        ($server:expr) => {
            routes = routes.add_service($server.max_decoding_message_size(max).max_encoding_message_size(max))
        };
    }
    if let Some(a) = &assistants {
        mount!(a.clone().into_server());
    }
    if let Some(t) = &threads {
        mount!(t.clone().into_server());
    }
    if let Some(c) = &conversations {
        mount!(c.clone().into_server());
    }
    if let Some(r) = &responses {
        mount!(r.clone().into_server());
    }
    if let Some(f) = &files {
        mount!(f.clone().into_server());
    }
    if let Some(e) = &engine {
        mount!(assistd_runs::RunsService::new(e.clone()).into_server());
    }
    if let Some((v, _)) = &vector_stores {
        mount!(v.clone().into_server());
    }
    if let Some(s) = &sandbox {
        mount!(s.clone().into_server());
    }
    let (reporter, health) = tonic_health::server::health_reporter();
    for s in services {
        reporter.set_service_status(s.grpc_name(), tonic_health::ServingStatus::Serving).await;
    }
    let descriptors = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(assistd_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = descriptors().build_v1().context("building reflection")?;
    let reflection_alpha = descriptors().build_v1alpha().context("building reflection")?;
    let routes = routes.add_service(health).add_service(reflection).add_service(reflection_alpha);
    let index = vector_stores.as_ref().map(|(v, _)| v.searcher().index().clone());
    let ingestor = vector_stores.map(|(_, i)| i);
    let responses = responses.map(|r| r.ops().clone());
    Ok(Grpc { router: guarded(routes.into_axum_router()), auth_on: auth.enabled(), engine, responses, ingestor, index })
}

/// Adds gRPC-Web (with CORS) in front of a gRPC router.
fn with_grpc_web(router: Router) -> Router {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([http::Method::POST, http::Method::OPTIONS])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            http::HeaderName::from_static("grpc-status"),
            http::HeaderName::from_static("grpc-message"),
            http::HeaderName::from_static("grpc-status-details-bin"),
            http::HeaderName::from_static("x-request-id"),
        ]);
    router.layer(tonic_web::GrpcWebLayer::new()).layer(cors)
}

/// Installs the process-wide Prometheus recorder (once) and returns its handle.
pub fn metrics_handle() -> anyhow::Result<metrics_exporter_prometheus::PrometheusHandle> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
        .context("metric buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    metrics::describe_counter!("assistd_http_requests_total", "REST requests by method, route and status.");
    metrics::describe_histogram!(
        "assistd_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "REST request latency."
    );
    metrics::describe_counter!(
        "assistd_grpc_requests_total",
        "gRPC calls (including the gateway's in-process calls) by service, method and code."
    );
    metrics::describe_histogram!("assistd_grpc_request_duration_seconds", metrics::Unit::Seconds, "gRPC call latency.");
    metrics::describe_counter!(
        "assistd_runs_total",
        "Runs that stopped (ended or now waiting for tool outputs), by status."
    );
    metrics::describe_histogram!(
        "assistd_run_duration_seconds",
        metrics::Unit::Seconds,
        "Time a run executed before it stopped, by status."
    );
    metrics::describe_histogram!(
        "assistd_run_first_token_seconds",
        metrics::Unit::Seconds,
        "Time from a model request to its first streamed piece."
    );
    metrics::describe_counter!("assistd_run_tokens_total", "Model tokens used by runs, by kind (prompt, completion).");
    metrics::describe_gauge!("assistd_run_streams_open", "Streamed runs with a client attached.");
    metrics::describe_counter!("assistd_runs_claimed_total", "Queued runs claimed by this process's workers.");
    metrics::describe_counter!("assistd_responses_total", "Responses that ended, by status.");
    metrics::describe_counter!(
        "assistd_response_tokens_total",
        "Model tokens used by responses, by kind (input, output)."
    );
    metrics::describe_counter!(
        "assistd_runs_reaped_total",
        "Runs ended by the reaper, by reason (lease_lapsed, expired)."
    );
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The whole HTTP app: health and metrics endpoints, optional REST gateway, optional gRPC.
pub fn app(rest: Option<Router>, grpc: Option<Router>, ready: Readiness) -> Router {
    let handle = metrics_handle().map_err(|e| tracing::warn!(error = %e, "metrics disabled")).ok();
    let mut app = Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }))
        .route("/readyz", get(readyz).with_state(ready))
        .route(
            "/metrics",
            get(move || {
                let body = handle.as_ref().map(|h| h.render()).unwrap_or_default();
                async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
            }),
        );
    if let Some(rest) = rest {
        app = app.merge(rest);
    }
    if let Some(grpc) = grpc {
        app = app.merge(with_grpc_web(grpc));
    }
    app.fallback(assistd_gateway::middleware::not_found)
        .layer(mw::from_fn(assistd_gateway::middleware::http_observe))
        .layer(mw::from_fn(assistd_gateway::middleware::request_id))
}

/// Whether `listen` is a loopback address.
pub fn is_loopback(listen: &str) -> bool {
    match listen.parse::<SocketAddr>() {
        Ok(a) => a.ip().is_loopback(),
        Err(_) => listen.starts_with("localhost:"),
    }
}

/// Builds the upstreams of the gateway: in-process for `local`, network for the rest.
pub fn upstreams(local: Option<&Router>, remote: &[(ServiceName, String)]) -> anyhow::Result<Upstreams> {
    let pick = |name: ServiceName| -> anyhow::Result<GrpcChannel> {
        if let Some((_, url)) = remote.iter().find(|(n, _)| *n == name) {
            return network(url);
        }
        match local {
            Some(r) => Ok(in_process(r.clone())),
            None => anyhow::bail!("no upstream for {0}: pass --upstream {0}=http://HOST:PORT", name.name()),
        }
    };
    // Added after the first five: a gateway without them still starts, and answers
    // their routes 503 (a split deployment from before keeps working).
    let optional = |name: ServiceName| -> anyhow::Result<Option<GrpcChannel>> {
        match (remote.iter().find(|(n, _)| *n == name), local) {
            (Some((_, url)), _) => network(url).map(Some),
            (None, Some(r)) => Ok(Some(in_process(r.clone()))),
            (None, None) => {
                tracing::warn!("no --upstream {0}=URL: the gateway answers the {0} routes 503", name.name());
                Ok(None)
            }
        }
    };
    Ok(Upstreams {
        assistants: pick(ServiceName::Assistants)?,
        threads: pick(ServiceName::Threads)?,
        runs: pick(ServiceName::Runs)?,
        files: pick(ServiceName::Files)?,
        vector_stores: pick(ServiceName::VectorStores)?,
        conversations: optional(ServiceName::Conversations)?,
        responses: optional(ServiceName::Responses)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert!(is_loopback("127.0.0.1:0"));
        assert!(!is_loopback("0.0.0.0:8080"));
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(ServiceName::parse("vector_stores"), Some(ServiceName::VectorStores));
    }

    #[test]
    fn each_service_has_one_place() {
        let p = Placement::new(&[ServiceName::Runs], &[(ServiceName::Assistants, "http://a:1".into())]);
        assert_eq!(p.of(ServiceName::Runs), Place::Here);
        assert_eq!(p.of(ServiceName::Assistants), Place::Remote("http://a:1".into()));
        assert_eq!(p.of(ServiceName::Threads), Place::Absent);
        // Hosting wins over an upstream given for the same service.
        let p = Placement::new(&[ServiceName::Files], &[(ServiceName::Files, "http://f:1".into())]);
        assert_eq!(p.of(ServiceName::Files), Place::Here);
    }
}
