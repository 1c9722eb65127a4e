//! Settings: command-line flags, then `ASSISTD_*` environment variables, then the
//! TOML config file, then defaults (DESIGN.md §8).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

/// Settings shared by `serve`, `gateway`, `migrate` and `keys`.
#[derive(Debug, Clone, Args, Default)]
pub struct CommonArgs {
    /// Directory for the SQLite database, blobs and models [env: ASSISTD_DATA_DIR] [default: ./data]
    #[arg(long, env = "ASSISTD_DATA_DIR", hide_env = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB [env: ASSISTD_DATABASE_URL] [default: sqlite://<data-dir>/assistd.db]
    #[arg(long, env = "ASSISTD_DATABASE_URL", hide_env = true)]
    pub database_url: Option<String>,
    /// TOML config file; flags and environment variables override it [env: ASSISTD_CONFIG]
    #[arg(long, env = "ASSISTD_CONFIG", hide_env = true)]
    pub config: Option<PathBuf>,
}

/// Settings of the server commands.
#[derive(Debug, Clone, Args, Default)]
pub struct ServerArgs {
    /// Address to listen on (REST, gRPC and gRPC-Web share it) [env: ASSISTD_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, env = "ASSISTD_LISTEN", hide_env = true)]
    pub listen: Option<String>,
    /// Blob store for uploaded files: file://DIR, s3://BUCKET[/PREFIX], gs://…, az://… or memory:// [env: ASSISTD_OBJECT_STORE] [default: file://<data-dir>/files]
    #[arg(long, env = "ASSISTD_OBJECT_STORE", hide_env = true)]
    pub object_store: Option<String>,
    /// Qdrant server URL for vector search; unset = embedded qdrant-edge [env: ASSISTD_QDRANT_URL]
    #[arg(long, env = "ASSISTD_QDRANT_URL", hide_env = true)]
    pub qdrant_url: Option<String>,
    /// OpenAI-compatible chat backend base URL; unset = embedded model [env: ASSISTD_LLM_BASE_URL]
    #[arg(long, env = "ASSISTD_LLM_BASE_URL", hide_env = true)]
    pub llm_base_url: Option<String>,
    /// Serve on a non-loopback address even though no API key is configured
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Seconds open requests and streams may take to finish after SIGTERM [env: ASSISTD_SHUTDOWN_TIMEOUT] [default: 30]
    #[arg(long, env = "ASSISTD_SHUTDOWN_TIMEOUT", hide_env = true)]
    pub shutdown_timeout: Option<u64>,
    /// Seconds a worker's claim on a run lasts without renewal [env: ASSISTD_RUN_LEASE] [default: 30]
    #[arg(long, env = "ASSISTD_RUN_LEASE", hide_env = true)]
    pub run_lease: Option<f64>,
    /// Most queued runs this process executes at once [env: ASSISTD_WORKER_CONCURRENCY] [default: 16]
    #[arg(long, env = "ASSISTD_WORKER_CONCURRENCY", hide_env = true)]
    pub worker_concurrency: Option<usize>,
    /// Execute no queued runs in this process (leave them to `assistd worker`) [env: ASSISTD_NO_WORKERS]
    #[arg(long, env = "ASSISTD_NO_WORKERS", hide_env = true)]
    pub no_workers: bool,
    /// Most files this process indexes at once [env: ASSISTD_INGEST_CONCURRENCY] [default: 2]
    #[arg(long, env = "ASSISTD_INGEST_CONCURRENCY", hide_env = true)]
    pub ingest_concurrency: Option<usize>,
    /// Seconds a client has to send a request's headers; also how long an idle HTTP/1 keep-alive connection stays open [env: ASSISTD_HEADER_TIMEOUT] [default: 15]
    #[arg(long, env = "ASSISTD_HEADER_TIMEOUT", hide_env = true)]
    pub header_timeout: Option<f64>,
    /// Seconds a request body may send nothing before it is cut off with 408 (a slow upload that keeps moving is never cut) [env: ASSISTD_BODY_TIMEOUT] [default: 30]
    #[arg(long, env = "ASSISTD_BODY_TIMEOUT", hide_env = true)]
    pub body_timeout: Option<f64>,
    /// Seconds a connection may stay open with no request in flight (HTTP/2 and gRPC included) [env: ASSISTD_IDLE_TIMEOUT] [default: 300]
    #[arg(long, env = "ASSISTD_IDLE_TIMEOUT", hide_env = true)]
    pub idle_timeout: Option<f64>,
    /// Most connections open at once; more wait to be accepted [env: ASSISTD_MAX_CONNECTIONS] [default: 4096]
    #[arg(long, env = "ASSISTD_MAX_CONNECTIONS", hide_env = true)]
    pub max_connections: Option<usize>,
    /// Model map: NAME=[MODEL][@BACKEND] entries, comma-separated; runs of model NAME go to BACKEND (a base URL, or `embedded`; default the chat backend) asking for MODEL (default NAME) [env: ASSISTD_MODEL_MAP]
    #[arg(long, env = "ASSISTD_MODEL_MAP", hide_env = true)]
    pub model_map: Option<String>,
    /// code_interpreter's sandbox: local (bubblewrap in this process), remote (--upstream sandbox=URL) or off [env: ASSISTD_SANDBOX] [default: local]
    #[arg(long, env = "ASSISTD_SANDBOX", hide_env = true)]
    pub sandbox: Option<SandboxMode>,
    /// The sandbox sessions' Python: a virtualenv made by scripts/setup-sandbox [env: ASSISTD_SANDBOX_PYTHON] [default: ~/.cache/assistd/sandbox; /var/cache/assistd/sandbox for root]
    #[arg(long, env = "ASSISTD_SANDBOX_PYTHON", hide_env = true)]
    pub sandbox_python: Option<PathBuf>,
    /// Seconds one code_interpreter cell may run [env: ASSISTD_SANDBOX_TIMEOUT] [default: 30]
    #[arg(long, env = "ASSISTD_SANDBOX_TIMEOUT", hide_env = true)]
    pub sandbox_timeout: Option<f64>,
    /// Address space of each sandbox process, in MiB [env: ASSISTD_SANDBOX_MEMORY_MB] [default: 2048]
    #[arg(long, env = "ASSISTD_SANDBOX_MEMORY_MB", hide_env = true)]
    pub sandbox_memory_mb: Option<u64>,
    /// Sandbox sessions open at once in this process [env: ASSISTD_SANDBOX_SESSIONS] [default: 32]
    #[arg(long, env = "ASSISTD_SANDBOX_SESSIONS", hide_env = true)]
    pub sandbox_sessions: Option<usize>,
    /// Seconds an unused sandbox session is kept [env: ASSISTD_SANDBOX_IDLE] [default: 1200]
    #[arg(long, env = "ASSISTD_SANDBOX_IDLE", hide_env = true)]
    pub sandbox_idle: Option<f64>,
}

/// Where code_interpreter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// Sessions in bubblewrap, hosted by this process.
    #[default]
    Local,
    /// The sandbox service at `--upstream sandbox=URL`.
    Remote,
    /// None: code_interpreter calls fail with a clear error.
    Off,
}

/// The sandbox's settings.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub mode: SandboxMode,
    pub python: PathBuf,
    pub limits: assistd_sandbox::Limits,
}

/// The config file: the same names as the flags, in snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// listen
    pub listen: Option<String>,
    /// data_dir
    pub data_dir: Option<PathBuf>,
    /// database_url
    pub database_url: Option<String>,
    /// object_store
    pub object_store: Option<String>,
    /// qdrant_url
    pub qdrant_url: Option<String>,
    /// api_keys
    pub api_keys: Option<Vec<String>>,
    /// llm_base_url
    pub llm_base_url: Option<String>,
    /// llm_api_key
    pub llm_api_key: Option<String>,
    /// llm_context_tokens
    pub llm_context_tokens: Option<u64>,
    /// embeddings_base_url
    pub embeddings_base_url: Option<String>,
    /// embeddings_model
    pub embeddings_model: Option<String>,
    /// shutdown_timeout (seconds)
    pub shutdown_timeout: Option<u64>,
    /// run_lease (seconds)
    pub run_lease: Option<f64>,
    /// worker_concurrency
    pub worker_concurrency: Option<usize>,
    /// ingest_concurrency
    pub ingest_concurrency: Option<usize>,
    /// header_timeout (seconds)
    pub header_timeout: Option<f64>,
    /// body_timeout (seconds)
    pub body_timeout: Option<f64>,
    /// idle_timeout (seconds)
    pub idle_timeout: Option<f64>,
    /// max_connections
    pub max_connections: Option<usize>,
    /// model_map: a table of NAME = "[MODEL][@BACKEND]"
    pub model_map: Option<std::collections::BTreeMap<String, String>>,
    pub sandbox: Option<SandboxMode>,
    pub sandbox_python: Option<PathBuf>,
    /// sandbox_timeout (seconds)
    pub sandbox_timeout: Option<f64>,
    pub sandbox_memory_mb: Option<u64>,
    pub sandbox_sessions: Option<usize>,
    /// sandbox_idle (seconds)
    pub sandbox_idle: Option<f64>,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub listen: String,
    /// Data directory.
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Blob store URL.
    pub object_store: String,
    /// Qdrant URL (unset: embedded qdrant-edge).
    pub qdrant_url: Option<String>,
    /// Bootstrap API keys.
    pub api_keys: Vec<String>,
    /// Chat backend.
    pub llm_base_url: Option<String>,
    /// Chat backend key.
    pub llm_api_key: Option<String>,
    /// The URL chat backends' context window in tokens (unset: unknown).
    pub llm_context_tokens: Option<u64>,
    /// Embeddings backend (unset: embedded MiniLM).
    pub embeddings_base_url: Option<String>,
    /// Embeddings model (`none`: lexical-only search).
    pub embeddings_model: Option<String>,
    /// Allow no auth on a public address.
    pub insecure_no_auth: bool,
    /// Grace period after SIGTERM.
    pub shutdown_timeout: std::time::Duration,
    /// How the run engine runs.
    pub engine: assistd_runs::EngineConfig,
    /// How files are indexed.
    pub ingest: assistd_vector_stores::worker::IngestConfig,
    /// Whether this process executes queued runs.
    pub workers: bool,
    pub model_map: Vec<ModelRoute>,
    /// The listener's timeouts and connection cap.
    pub limits: crate::listener::Limits,
    pub sandbox: SandboxSettings,
}

/// One entry of the model map: runs of model `name` go to `backend` (a base URL, or
/// `embedded`; default: the chat backend) and ask it for `model` (default: `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRoute {
    /// The model name runs carry.
    pub name: String,
    /// The name sent to the backend.
    pub model: Option<String>,
    /// Where to send it.
    pub backend: Option<String>,
}

impl ModelRoute {
    /// Parses `NAME=[MODEL][@BACKEND]`.
    fn parse(name: &str, target: &str) -> anyhow::Result<Self> {
        let name = name.trim();
        anyhow::ensure!(!name.is_empty(), "a model map entry has no name");
        let (model, backend) = match target.trim().split_once('@') {
            Some((m, b)) => (m.trim(), Some(b.trim())),
            None => (target.trim(), None),
        };
        if let Some(b) = backend {
            anyhow::ensure!(
                b == "embedded" || b.starts_with("http://") || b.starts_with("https://"),
                "model map entry '{name}': the backend must be an http(s) base URL or 'embedded', got '{b}'"
            );
        }
        Ok(Self {
            name: name.to_owned(),
            model: Some(model.to_owned()).filter(|m| !m.is_empty()),
            backend: backend.filter(|b| !b.is_empty()).map(str::to_owned),
        })
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Resolves flags (and their env vars, already read by clap), the file and defaults.
    pub fn resolve(common: &CommonArgs, server: &ServerArgs) -> anyhow::Result<Self> {
        let file = match &common.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let engine = engine_config(server, &file)?;
        let limits = listener_limits(server, &file)?;
        let ingest = ingest_config(server, &file)?;
        let sandbox = sandbox_settings(server, &file)?;
        let model_map = match &server.model_map {
            Some(m) => parse_model_map(m)?,
            None => file
                .model_map
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|(n, t)| ModelRoute::parse(n, t))
                .collect::<anyhow::Result<_>>()?,
        };
        let data_dir = common.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./data"));
        let database_url =
            common.database_url.clone().or(file.database_url).unwrap_or_else(|| default_sqlite_url(&data_dir));
        let object_store = server
            .object_store
            .clone()
            .or(file.object_store)
            .unwrap_or_else(|| format!("file://{}", absolute(&data_dir.join("files")).display()));
        let api_keys = match env("ASSISTD_API_KEYS") {
            Some(v) => v.split(',').map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect(),
            None => file.api_keys.unwrap_or_default(),
        };
        Ok(Self {
            listen: server.listen.clone().or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into()),
            data_dir,
            database_url,
            object_store,
            qdrant_url: server.qdrant_url.clone().or(file.qdrant_url),
            api_keys,
            llm_base_url: server.llm_base_url.clone().or(file.llm_base_url),
            llm_api_key: env("ASSISTD_LLM_API_KEY").or(file.llm_api_key),
            llm_context_tokens: match env("ASSISTD_LLM_CONTEXT_TOKENS") {
                Some(v) => Some(
                    v.parse()
                        .with_context(|| format!("ASSISTD_LLM_CONTEXT_TOKENS must be a number of tokens, got '{v}'"))?,
                ),
                None => file.llm_context_tokens,
            },
            embeddings_base_url: env("ASSISTD_EMBEDDINGS_BASE_URL").or(file.embeddings_base_url),
            embeddings_model: env("ASSISTD_EMBEDDINGS_MODEL").or(file.embeddings_model),
            insecure_no_auth: server.insecure_no_auth,
            shutdown_timeout: std::time::Duration::from_secs(
                server.shutdown_timeout.or(file.shutdown_timeout).unwrap_or(30),
            ),
            engine,
            ingest,
            workers: !server.no_workers,
            model_map,
            limits,
            sandbox,
        })
    }
}

fn sandbox_settings(server: &ServerArgs, file: &FileConfig) -> anyhow::Result<SandboxSettings> {
    let mut limits = assistd_sandbox::Limits::default();
    let secs = |name: &str, v: f64| -> anyhow::Result<std::time::Duration> {
        anyhow::ensure!(v > 0.0 && v.is_finite(), "the {name} must be a positive number of seconds");
        Ok(std::time::Duration::from_secs_f64(v))
    };
    if let Some(v) = server.sandbox_timeout.or(file.sandbox_timeout) {
        limits.wall_time = secs("sandbox timeout", v)?;
    }
    if let Some(v) = server.sandbox_idle.or(file.sandbox_idle) {
        limits.idle = secs("sandbox idle time", v)?;
    }
    if let Some(v) = server.sandbox_memory_mb.or(file.sandbox_memory_mb) {
        anyhow::ensure!(v >= 64, "the sandbox memory must be at least 64 MiB");
        limits.memory_bytes = v << 20;
    }
    if let Some(v) = server.sandbox_sessions.or(file.sandbox_sessions) {
        anyhow::ensure!(v >= 1, "the sandbox needs at least one session");
        limits.max_sessions = v;
    }
    Ok(SandboxSettings {
        mode: server.sandbox.or(file.sandbox).unwrap_or_default(),
        python: server
            .sandbox_python
            .clone()
            .or_else(|| file.sandbox_python.clone())
            .unwrap_or_else(assistd_sandbox::local::default_python),
        limits,
    })
}

fn listener_limits(server: &ServerArgs, file: &FileConfig) -> anyhow::Result<crate::listener::Limits> {
    let mut limits = crate::listener::Limits::default();
    let secs = |name: &str, v: f64| -> anyhow::Result<std::time::Duration> {
        anyhow::ensure!(v > 0.0 && v.is_finite(), "the {name} must be a positive number of seconds");
        Ok(std::time::Duration::from_secs_f64(v))
    };
    if let Some(v) = server.header_timeout.or(file.header_timeout) {
        limits.header_timeout = secs("header timeout", v)?;
    }
    if let Some(v) = server.body_timeout.or(file.body_timeout) {
        limits.body_timeout = secs("body timeout", v)?;
    }
    if let Some(v) = server.idle_timeout.or(file.idle_timeout) {
        limits.idle_timeout = secs("idle timeout", v)?;
    }
    if let Some(n) = server.max_connections.or(file.max_connections) {
        anyhow::ensure!(n >= 1, "max connections must be at least 1");
        limits.max_connections = n;
    }
    Ok(limits)
}

fn ingest_config(
    server: &ServerArgs,
    file: &FileConfig,
) -> anyhow::Result<assistd_vector_stores::worker::IngestConfig> {
    let mut cfg = assistd_vector_stores::worker::IngestConfig::default();
    if let Some(n) = server.ingest_concurrency.or(file.ingest_concurrency) {
        anyhow::ensure!(n >= 1, "ingest concurrency must be at least 1");
        cfg.concurrency = n;
    }
    Ok(cfg)
}

fn engine_config(server: &ServerArgs, file: &FileConfig) -> anyhow::Result<assistd_runs::EngineConfig> {
    let mut cfg = assistd_runs::EngineConfig::default();
    if let Some(secs) = server.run_lease.or(file.run_lease) {
        anyhow::ensure!(secs > 0.0 && secs.is_finite(), "the run lease must be a positive number of seconds");
        cfg.lease = std::time::Duration::from_secs_f64(secs);
        // Idle workers and the reaper look at least as often as a lease renews.
        cfg.poll = cfg.poll.min(cfg.lease / 3);
    }
    if let Some(n) = server.worker_concurrency.or(file.worker_concurrency) {
        anyhow::ensure!(n >= 1, "worker concurrency must be at least 1");
        cfg.concurrency = n;
    }
    Ok(cfg)
}

fn parse_model_map(s: &str) -> anyhow::Result<Vec<ModelRoute>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (a, b) = p
                .split_once('=')
                .with_context(|| format!("model map entries are NAME=[MODEL][@BACKEND], got '{p}'"))?;
            ModelRoute::parse(a, b)
        })
        .collect()
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_owned())
    }
}

/// `sqlite://<data-dir>/assistd.db`.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}/assistd.db", data_dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_file() {
        let s = Settings::resolve(&CommonArgs::default(), &ServerArgs::default()).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://./data/assistd.db");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9999\"\ndata_dir = \"/tmp/x\"\n").unwrap();
        let common = CommonArgs { config: Some(path.clone()), ..Default::default() };
        let s = Settings::resolve(&common, &ServerArgs::default()).unwrap();
        assert_eq!(s.listen, "127.0.0.1:9999");
        assert_eq!(s.database_url, "sqlite:///tmp/x/assistd.db");
        let server = ServerArgs { listen: Some("127.0.0.1:1".into()), ..Default::default() };
        assert_eq!(Settings::resolve(&common, &server).unwrap().listen, "127.0.0.1:1");
        std::fs::write(&path, "bogus = 1\n").unwrap();
        assert!(Settings::resolve(&common, &ServerArgs::default()).is_err());
    }

    #[test]
    fn model_map_entries() {
        let m = parse_model_map("gpt-4o=llama3.1:8b, small=@embedded ,big=qwen@http://gpu:8000/v1").unwrap();
        let r = |name: &str, model: Option<&str>, backend: Option<&str>| ModelRoute {
            name: name.into(),
            model: model.map(Into::into),
            backend: backend.map(Into::into),
        };
        assert_eq!(
            m,
            [
                r("gpt-4o", Some("llama3.1:8b"), None),
                r("small", None, Some("embedded")),
                r("big", Some("qwen"), Some("http://gpu:8000/v1"))
            ]
        );
        assert!(parse_model_map("nameonly").is_err());
        assert!(parse_model_map("a=b@ftp://x").is_err());
    }
}
