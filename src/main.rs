//! The `assistd` binary: an OpenAI Assistants API v2 server.

mod config;
mod listener;
mod models;
mod server;
mod telemetry;
mod vectors;

use anyhow::Context;
use clap::{Parser, Subcommand};

use config::{CommonArgs, ServerArgs, Settings};
use server::ServiceName;

// glibc malloc spends a large share of a busy server's time in consolidation.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// assistd: a self-hosted server for the OpenAI Assistants API v2, Files, Uploads and
/// Vector Stores. Point the OpenAI SDK's base_url at http://HOST:PORT/v1.
///
/// Settings come from flags, then ASSISTD_* environment variables, then the TOML file
/// given by --config, then defaults. API keys: ASSISTD_API_KEYS (comma-separated) for
/// the default project, or `assistd keys create --project P`.
#[derive(Debug, Parser)]
#[command(name = "assistd", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: the REST gateway and every service in one process, or with
    /// --only one service's gRPC API.
    Serve {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        server: ServerArgs,
        /// Run only this service's gRPC API (repeatable), without the REST gateway
        #[arg(long, value_enum)]
        only: Vec<ServiceName>,
        /// With --only: another service this one calls, e.g. files=http://files:8080
        #[arg(long = "upstream", value_name = "NAME=URL")]
        upstreams: Vec<String>,
    },
    /// Execute queued runs (no API): workers that claim runs from the database. Give
    /// --upstream assistants=URL and threads=URL, or share their database; and
    /// --upstream vector_stores=URL (file_search), or ASSISTD_QDRANT_URL to run that
    /// service in process.
    Worker {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        server: ServerArgs,
        /// A service the workers call, e.g. threads=http://threads:8080
        #[arg(long = "upstream", value_name = "NAME=URL")]
        upstreams: Vec<String>,
    },
    /// Run the REST gateway against services running elsewhere.
    Gateway {
        #[command(flatten)]
        common: CommonArgs,
        #[command(flatten)]
        server: ServerArgs,
        /// A service and its gRPC URL, e.g. threads=http://threads:8080 (one per service)
        #[arg(long = "upstream", value_name = "NAME=URL", required = true)]
        upstreams: Vec<String>,
    },
    /// Apply database migrations and exit (serve also applies them on start).
    Migrate {
        #[command(flatten)]
        common: CommonArgs,
        /// Only this service's tables (repeatable); default all
        #[arg(long, value_enum)]
        only: Vec<ServiceName>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key for a project and print it on stdout. A running server
    /// using the same database accepts it at once.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        /// The project the key acts for
        #[arg(long, default_value = "default")]
        project: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // ring (sqlx, tonic) and aws-lc-rs (object_store's cloud clients) are both linked:
    // name the process-wide TLS provider so no client has to guess.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let telemetry = telemetry::init();
    let result = run(cli).await;
    // spans are exported in batches: flush them off the async workers
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await.ok();
    result
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { common, server, only, upstreams } => {
            serve(Settings::resolve(&common, &server)?, only, parse_upstreams(&upstreams)?).await
        }
        Command::Worker { common, server, upstreams } => {
            worker(Settings::resolve(&common, &server)?, parse_upstreams(&upstreams)?).await
        }
        Command::Gateway { common, server, upstreams } => {
            gateway(Settings::resolve(&common, &server)?, upstreams).await
        }
        Command::Migrate { common, only } => {
            let settings = Settings::resolve(&common, &ServerArgs::default())?;
            let services = ServiceName::or_all(&only);
            server::open_db(&settings, &services).await?;
            eprintln!("migrations applied to {}", server::redact(&settings.database_url));
            Ok(())
        }
        Command::Keys { command: KeysCommand::Create { common, project } } => {
            let settings = Settings::resolve(&common, &ServerArgs::default())?;
            let conn = server::open_db(&settings, &[]).await?;
            let key =
                assistd_common::auth::create_key(&conn, &project).await.map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{key}");
            Ok(())
        }
    }
}

fn parse_upstreams(upstreams: &[String]) -> anyhow::Result<Vec<(ServiceName, String)>> {
    upstreams
        .iter()
        .map(|u| {
            let (name, url) = u.split_once('=').with_context(|| format!("--upstream takes NAME=URL, got '{u}'"))?;
            let service =
                ServiceName::parse(name).with_context(|| format!("unknown service '{name}' in --upstream"))?;
            Ok((service, url.to_owned()))
        })
        .collect()
}

async fn serve(settings: Settings, only: Vec<ServiceName>, remote: Vec<(ServiceName, String)>) -> anyhow::Result<()> {
    let mut services = ServiceName::or_all(&only);
    // The sandbox is hosted when asked for by name, or with everything when it is local.
    if only.is_empty() && settings.sandbox.mode != config::SandboxMode::Local {
        services.retain(|s| *s != ServiceName::Sandbox);
    }
    let conn = server::open_db(&settings, &services).await?;
    let server::Grpc { router: grpc, auth_on, engine, responses, ingestor, index } =
        server::grpc_router(&settings, &services, &conn, &remote).await?;
    if let Some(engine) = &engine {
        engine.spawn_workers(settings.workers);
    }
    if let Some(responses) = &responses {
        responses.spawn_workers(settings.workers);
    }
    let stop_ingest = tokio_util::sync::CancellationToken::new();
    let ingesting = ingestor.as_ref().map(|i| i.spawn(stop_ingest.clone()));
    if !auth_on && !settings.insecure_no_auth && !server::is_loopback(&settings.listen) {
        anyhow::bail!(
            "refusing to listen on {} with authentication off: set ASSISTD_API_KEYS, create a key with `assistd keys create`, or pass --insecure-no-auth",
            settings.listen
        );
    }
    let ready = server::Readiness::default()
        .with(conn.clone(), services.iter().flat_map(|s| s.migrations().iter().copied()).collect())
        .with_index(index);
    let rest = if only.is_empty() {
        let upstreams = server::upstreams(Some(&grpc), &[])?;
        Some(assistd_gateway::router(upstreams))
    } else {
        None
    };
    let app = server::app(rest, Some(grpc), ready);
    let result = listener::run(&settings.listen, app, settings.shutdown_timeout, &settings.limits).await;
    // Files being indexed keep their leases until they lapse; another process (or
    // this one, restarted) indexes them again.
    stop_ingest.cancel();
    if let Some(task) = ingesting {
        task.await.ok();
    }
    if let Some(engine) = engine {
        engine.shutdown(settings.shutdown_timeout).await;
    }
    result
}

/// Executes queued runs only: the engine with its workers and reaper, and the
/// health and metrics endpoints. The assistants and threads services are called at
/// their upstreams, or in process on the same database when none is given. Runs may
/// call file_search, so the worker needs the vector stores service too: at its
/// upstream, or in process when the vector index is a Qdrant server that this process
/// can share (the embedded index belongs to the one process that serves it).
async fn worker(settings: Settings, remote: Vec<(ServiceName, String)>) -> anyhow::Result<()> {
    let services = worker_services(&settings, &remote)?;
    let conn = server::open_db(&settings, &services).await?;
    let grpc = server::grpc_router(&settings, &services, &conn, &remote).await?;
    let engine = grpc.engine.context("the runs engine was not built")?;
    engine.spawn_workers(true);
    let ready = server::Readiness::default()
        .with(conn.clone(), services.iter().flat_map(|s| s.migrations().iter().copied()).collect())
        .with_index(grpc.index);
    let app = server::app(None, None, ready);
    let result = listener::run(&settings.listen, app, settings.shutdown_timeout, &settings.limits).await;
    engine.shutdown(settings.shutdown_timeout).await;
    result
}

/// The services a worker hosts in process: the runs engine, and each service its runs
/// call that has no `--upstream`.
fn worker_services(settings: &Settings, remote: &[(ServiceName, String)]) -> anyhow::Result<Vec<ServiceName>> {
    let upstream = |s: ServiceName| remote.iter().any(|(n, _)| *n == s);
    let mut services = vec![ServiceName::Runs];
    services.extend([ServiceName::Assistants, ServiceName::Threads].into_iter().filter(|s| !upstream(*s)));
    if !upstream(ServiceName::Sandbox) && settings.sandbox.mode == config::SandboxMode::Local {
        services.push(ServiceName::Sandbox);
    }
    if !upstream(ServiceName::VectorStores) {
        anyhow::ensure!(
            settings.qdrant_url.is_some(),
            "assistd worker needs the vector stores service for file_search: give --upstream vector_stores=URL \
             (the server that hosts it, e.g. the `assistd serve` this worker shares a database with), \
             or set ASSISTD_QDRANT_URL to the Qdrant server that service uses"
        );
        services.push(ServiceName::VectorStores);
        if !upstream(ServiceName::Files) {
            services.push(ServiceName::Files);
        }
    }
    Ok(services)
}

async fn gateway(settings: Settings, upstreams: Vec<String>) -> anyhow::Result<()> {
    let remote = parse_upstreams(&upstreams)?;
    let up = server::upstreams(None, &remote)?;
    let app = server::app(Some(assistd_gateway::router(up)), None, server::Readiness::default());
    listener::run(&settings.listen, app, settings.shutdown_timeout, &settings.limits).await
}
