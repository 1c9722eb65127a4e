//! The bare baseline `scripts/bench.sh` compares assistd with: axum + sqlx serving the
//! benchmark's three routes the way a typical hand-written handler would, with nothing
//! of assistd in between (no gRPC hop, no ORM, no tracing, no metrics).
//!
//! - `POST /v1/threads`, `POST /v1/threads/{id}/messages` (checks that the thread exists,
//!   then inserts) and `GET /v1/threads/{id}/messages?limit=&order=&after=&before=`,
//!   each behind a `Bearer` key check;
//! - the same table, columns and index as assistd's threads service (its migration),
//!   the same SQLite settings (WAL, `synchronous=NORMAL`, busy timeout, foreign keys;
//!   pool of 4) or a PostgreSQL pool of 32, and the same OpenAI JSON (a `thread.message`
//!   object; a list with `first_id`, `last_id`, `has_more`);
//! - rows decoded into structs and their JSON columns parsed and written out again, as
//!   a handler written against sqlx does.
//!
//! ```sh
//! baseline --listen 127.0.0.1:0 --database-url sqlite:///tmp/b.db --api-key sk-bench
//! ```
//! It prints `baseline listening on ADDR` once it accepts connections.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    #[arg(long)]
    database_url: String,
    /// The one accepted API key.
    #[arg(long)]
    api_key: String,
}

#[derive(Clone)]
enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

struct App {
    db: Db,
    bearer: String,
}

const SCHEMA: [&str; 3] = [
    "CREATE TABLE IF NOT EXISTS threads (id varchar NOT NULL PRIMARY KEY, project_id varchar NOT NULL, \
     created_at bigint NOT NULL, tool_resources text NULL, metadata text NOT NULL)",
    "CREATE TABLE IF NOT EXISTS messages (id varchar NOT NULL PRIMARY KEY, project_id varchar NOT NULL, \
     thread_id varchar NOT NULL, created_at bigint NOT NULL, status varchar NOT NULL, incomplete_reason varchar NULL, \
     completed_at bigint NULL, incomplete_at bigint NULL, role varchar NOT NULL, content text NOT NULL, \
     assistant_id varchar NULL, run_id varchar NULL, attachments text NOT NULL, metadata text NOT NULL)",
    "CREATE INDEX IF NOT EXISTS idx_messages_thread ON messages (thread_id, id)",
];

const PROJECT: &str = "proj_default";

/// A message row, as stored.
#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    thread_id: String,
    created_at: i64,
    status: String,
    incomplete_reason: Option<String>,
    completed_at: Option<i64>,
    incomplete_at: Option<i64>,
    role: String,
    content: String,
    assistant_id: Option<String>,
    run_id: Option<String>,
    attachments: String,
    metadata: String,
}

/// A `thread.message` object.
#[derive(Serialize)]
struct MessageOut {
    id: String,
    object: &'static str,
    created_at: i64,
    thread_id: String,
    status: String,
    incomplete_details: Option<Value>,
    completed_at: Option<i64>,
    incomplete_at: Option<i64>,
    role: String,
    content: Value,
    assistant_id: Option<String>,
    run_id: Option<String>,
    attachments: Value,
    metadata: Value,
}

impl TryFrom<Row> for MessageOut {
    type Error = serde_json::Error;

    fn try_from(r: Row) -> Result<Self, Self::Error> {
        Ok(Self {
            id: r.id,
            object: "thread.message",
            created_at: r.created_at,
            thread_id: r.thread_id,
            status: r.status,
            incomplete_details: r.incomplete_reason.map(|reason| json!({ "reason": reason })),
            completed_at: r.completed_at,
            incomplete_at: r.incomplete_at,
            role: r.role,
            content: serde_json::from_str(&r.content)?,
            assistant_id: r.assistant_id,
            run_id: r.run_id,
            attachments: serde_json::from_str(&r.attachments)?,
            metadata: serde_json::from_str(&r.metadata)?,
        })
    }
}

#[derive(Deserialize)]
struct CreateMessage {
    role: String,
    content: String,
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
    order: Option<String>,
    after: Option<String>,
    before: Option<String>,
}

#[derive(Serialize)]
struct ListOut {
    object: &'static str,
    data: Vec<MessageOut>,
    first_id: Option<String>,
    last_id: Option<String>,
    has_more: bool,
}

/// An OpenAI-shaped error.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = if self.0.is_server_error() { "server_error" } else { "invalid_request_error" };
        (self.0, Json(json!({"error": {"message": self.1, "type": kind, "param": null, "code": null}}))).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

fn authorize(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(v) if v == app.bearer => Ok(()),
        _ => Err(ApiError(StatusCode::UNAUTHORIZED, "Incorrect API key provided.".to_owned())),
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A sortable id: `prefix_` + the time in microseconds + random hex.
fn new_id(prefix: &str) -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
    format!("{prefix}_{micros:016x}{:08x}", rand::random::<u32>())
}

async fn create_thread(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let id = new_id("thread");
    let created_at = now();
    let sql =
        "INSERT INTO threads (id, project_id, created_at, tool_resources, metadata) VALUES ($1, $2, $3, NULL, '{}')";
    match &app.db {
        Db::Sqlite(pool) => {
            sqlx::query(sql).bind(&id).bind(PROJECT).bind(created_at).execute(pool).await?;
        }
        Db::Postgres(pool) => {
            sqlx::query(sql).bind(&id).bind(PROJECT).bind(created_at).execute(pool).await?;
        }
    }
    let body = json!({"id": id, "object": "thread", "created_at": created_at, "tool_resources": {}, "metadata": {}});
    Ok(Json(body).into_response())
}

async fn create_message(
    State(app): State<Arc<App>>,
    Path(thread_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<CreateMessage>,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    if body.role != "user" && body.role != "assistant" {
        return Err(ApiError(StatusCode::BAD_REQUEST, "role must be user or assistant".to_owned()));
    }
    let exists = "SELECT COUNT(*) FROM threads WHERE id = $1 AND project_id = $2";
    let count: i64 = match &app.db {
        Db::Sqlite(pool) => sqlx::query_scalar(exists).bind(&thread_id).bind(PROJECT).fetch_one(pool).await?,
        Db::Postgres(pool) => sqlx::query_scalar(exists).bind(&thread_id).bind(PROJECT).fetch_one(pool).await?,
    };
    if count == 0 {
        return Err(ApiError(StatusCode::NOT_FOUND, format!("No thread found with id '{thread_id}'.")));
    }
    let content = json!([{"type": "text", "text": {"value": body.content, "annotations": []}}]).to_string();
    let row = Row {
        id: new_id("msg"),
        thread_id,
        created_at: now(),
        status: "completed".to_owned(),
        incomplete_reason: None,
        completed_at: None,
        incomplete_at: None,
        role: body.role,
        content,
        assistant_id: None,
        run_id: None,
        attachments: "[]".to_owned(),
        metadata: "{}".to_owned(),
    };
    let insert = "INSERT INTO messages (id, project_id, thread_id, created_at, status, incomplete_reason, completed_at, \
                  incomplete_at, role, content, assistant_id, run_id, attachments, metadata) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
    macro_rules! bound {
        () => {
            sqlx::query(insert)
                .bind(&row.id)
                .bind(PROJECT)
                .bind(&row.thread_id)
                .bind(row.created_at)
                .bind(&row.status)
                .bind(&row.incomplete_reason)
                .bind(row.completed_at)
                .bind(row.incomplete_at)
                .bind(&row.role)
                .bind(&row.content)
                .bind(&row.assistant_id)
                .bind(&row.run_id)
                .bind(&row.attachments)
                .bind(&row.metadata)
        };
    }
    match &app.db {
        Db::Sqlite(pool) => {
            bound!().execute(pool).await?;
        }
        Db::Postgres(pool) => {
            bound!().execute(pool).await?;
        }
    }
    Ok(Json(MessageOut::try_from(row)?).into_response())
}

async fn list_messages(
    State(app): State<Arc<App>>,
    Path(thread_id): Path<String>,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&app, &headers)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError(StatusCode::BAD_REQUEST, "limit must be between 1 and 100".to_owned()));
    }
    let asc = match q.order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => return Err(ApiError(StatusCode::BAD_REQUEST, "order must be asc or desc".to_owned())),
    };
    let mut sql = String::from(
        "SELECT id, thread_id, created_at, status, incomplete_reason, completed_at, incomplete_at, role, content, \
         assistant_id, run_id, attachments, metadata FROM messages WHERE project_id = $1 AND thread_id = $2",
    );
    let mut cursors = Vec::new();
    for (cursor, forward) in [(q.after, true), (q.before, false)] {
        if let Some(id) = cursor {
            let op = if forward == asc { ">" } else { "<" };
            cursors.push(id);
            sql.push_str(&format!(" AND id {op} ${}", 2 + cursors.len()));
        }
    }
    sql.push_str(if asc { " ORDER BY id ASC" } else { " ORDER BY id DESC" });
    sql.push_str(&format!(" LIMIT {}", limit + 1));
    let mut rows: Vec<Row> = match &app.db {
        Db::Sqlite(pool) => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(PROJECT).bind(&thread_id);
            for c in &cursors {
                query = query.bind(c);
            }
            query.fetch_all(pool).await?
        }
        Db::Postgres(pool) => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql.as_str())).bind(PROJECT).bind(&thread_id);
            for c in &cursors {
                query = query.bind(c);
            }
            query.fetch_all(pool).await?
        }
    };
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let data = rows.into_iter().map(MessageOut::try_from).collect::<Result<Vec<_>, _>>()?;
    let list = ListOut {
        object: "list",
        first_id: data.first().map(|m| m.id.clone()),
        last_id: data.last().map(|m| m.id.clone()),
        data,
        has_more,
    };
    Ok(Json(list).into_response())
}

async fn connect(url: &str) -> anyhow::Result<Db> {
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new().max_connections(4).min_connections(1).connect_with(options).await?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Db::Sqlite(pool))
    } else {
        let pool = PgPoolOptions::new().max_connections(32).min_connections(1).connect(url).await?;
        for statement in SCHEMA {
            sqlx::query(statement).execute(&pool).await?;
        }
        Ok(Db::Postgres(pool))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let db = connect(&args.database_url).await?;
    let app = Arc::new(App { db, bearer: format!("Bearer {}", args.api_key) });
    let router = axum::Router::new()
        .route("/v1/threads", post(create_thread))
        .route("/v1/threads/{thread_id}/messages", post(create_message).get(list_messages))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("baseline listening on {}", listener.local_addr()?);
    axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
