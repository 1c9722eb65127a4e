//! Database connections: SQLite (WAL, busy timeout) or PostgreSQL, by URL.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Default pool size for SQLite (override with `ASSISTD_DB_MAX_CONNECTIONS`).
pub const SQLITE_POOL: u32 = 4;
/// Default pool size for PostgreSQL (override with `ASSISTD_DB_MAX_CONNECTIONS`).
pub const POSTGRES_POOL: u32 = 32;

/// Connects to `url` (`sqlite://path` or `postgres://…`). A SQLite file and its
/// directory are created when missing.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    let pool_override =
        std::env::var("ASSISTD_DB_MAX_CONNECTIONS").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0);
    opts.sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
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

/// Whether `url` names a SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(sqlite_path("sqlite://data/a.db?mode=rwc").as_deref(), Some("data/a.db"));
        assert_eq!(sqlite_path("sqlite:///abs/a.db").as_deref(), Some("/abs/a.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
