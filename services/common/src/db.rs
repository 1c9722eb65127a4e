//! Database connections: SQLite (WAL, busy timeout) or PostgreSQL, by URL.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Default pool size for SQLite (override with `ASSISTD_DB_MAX_CONNECTIONS`).
pub const SQLITE_POOL: u32 = 4;
/// Default pool size for PostgreSQL (override with `ASSISTD_DB_MAX_CONNECTIONS`).
pub const POSTGRES_POOL: u32 = 32;

/// Default wait for a pooled connection, in seconds (override with
/// `ASSISTD_DB_ACQUIRE_TIMEOUT`): past it a request answers 503 with `Retry-After`.
pub const ACQUIRE_TIMEOUT_SECS: f64 = 5.0;

fn acquire_timeout() -> Duration {
    std::env::var("ASSISTD_DB_ACQUIRE_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs_f64(ACQUIRE_TIMEOUT_SECS))
}

/// Connects to `url` (`sqlite://path` or `postgres://…`). A SQLite file and its
/// directory are created when missing. Pooled connections are checked before use,
/// so those a database restart broke are replaced rather than handed out.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    let pool_override =
        std::env::var("ASSISTD_DB_MAX_CONNECTIONS").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0);
    let wait = acquire_timeout();
    opts.sqlx_logging(false).acquire_timeout(wait).connect_timeout(wait).test_before_acquire(true);
    if is_sqlite(url) {
        if let Some(path) = sqlite_path(url)
            && let Some(parent) = std::path::Path::new(&path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| DbErr::Custom(format!("creating {}: {e}", parent.display())))?;
        }
        opts.max_connections(pool_override.unwrap_or(SQLITE_POOL)).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    } else {
        opts.max_connections(pool_override.unwrap_or(POSTGRES_POOL)).min_connections(1);
    }
    Database::connect(opts).await
}

/// Whether `err` means the database cannot be reached or is busy right now (a
/// broken or refused connection, the pool's wait running out, a server shutting
/// down or starting, SQLite's lock held past the busy timeout), as opposed to a
/// fault in the request or the data. Such errors answer 503 with `Retry-After`.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        DbErr::Conn(_) => true,
        _ => false,
    }
}

fn sqlx_unavailable(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match e {
        E::Io(_) | E::Tls(_) | E::Protocol(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
        E::Database(d) => d.code().is_some_and(|c| unavailable_code(&c)),
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of a lost or refused connection (class 08), a server shutting
/// down or starting (57P01-57P03) or out of connections (53300); SQLite's busy and
/// locked result codes (5, 6 and their extended forms).
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
        || code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

/// Whether `url` names a SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// The columns of `E` as a `RETURNING` list. `RETURNING *` on SQLite can hand sqlx a row
/// narrower than the statement it cached once a migration added columns to the table
/// (sqlx-sqlite then panics in its worker thread); naming the columns avoids that.
pub fn returning<E: sea_orm::EntityTrait>() -> String {
    use sea_orm::{IdenStatic, Iterable};
    E::Column::iter().map(|c| format!("\"{}\"", c.as_str())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_codes() {
        for c in ["08006", "08001", "57P01", "57P03", "53300", "5", "517", "6", "261"] {
            assert!(unavailable_code(c), "{c}");
        }
        for c in ["23505", "42P01", "19", "2067", "1"] {
            assert!(!unavailable_code(c), "{c}");
        }
        assert!(is_unavailable(&DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout)));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://data/a.db?mode=rwc").as_deref(), Some("data/a.db"));
        assert_eq!(sqlite_path("sqlite:///abs/a.db").as_deref(), Some("/abs/a.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
