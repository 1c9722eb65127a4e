//! Test support: the databases every storage test runs on — a fresh SQLite file,
//! and, when `ASSISTD_TEST_DATABASE_URL` is set, a fresh PostgreSQL database
//! (`assistd_test_<ulid>`; `scripts/test` drops them afterwards).

use sea_orm::{ConnectionTrait, DatabaseConnection};

/// Env var naming a PostgreSQL server for tests (its database is used to create others).
pub const TEST_DATABASE_ENV: &str = "ASSISTD_TEST_DATABASE_URL";

/// A database for one test; the SQLite file lives as long as this value.
pub struct TestDb {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Its URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// URLs of the databases a test should run on, freshly created.
pub async fn test_databases() -> Vec<TestDb> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}/test.db", dir.path().display());
    out.push(TestDb { backend: "sqlite", url, _dir: Some(dir) });
    if let Some(admin) = std::env::var(TEST_DATABASE_ENV).ok().filter(|v| !v.is_empty()) {
        let url = fresh_postgres(&admin).await.expect("creating a PostgreSQL test database");
        out.push(TestDb { backend: "postgres", url, _dir: None });
    }
    out
}

/// Creates a new database on the server of `admin_url` and returns its URL.
pub async fn fresh_postgres(admin_url: &str) -> Result<String, sea_orm::DbErr> {
    let name = format!("assistd_test_{}", crate::ids::new_ulid());
    let admin: DatabaseConnection = sea_orm::Database::connect(admin_url).await?;
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await?;
    admin.close().await?;
    Ok(replace_db_name(admin_url, &name))
}

/// `admin_url` with its database name replaced by `name`.
pub fn replace_db_name(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

/// A gRPC request acting for `project`, as the auth layer would pass it on.
pub fn request<T>(project: &str, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.extensions_mut().insert(crate::auth::Project(project.to_owned()));
    r
}

/// The inputs of fuzz target `target` kept in the repository: its seeds and the
/// inputs it ever failed on (`fuzz/seeds/<target>`, `fuzz/regressions/<target>`), for
/// the tests that replay them on stable Rust.
pub fn fuzz_inputs(target: &str) -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut out = Vec::new();
    for dir in ["seeds", "regressions"] {
        for entry in std::fs::read_dir(root.join(dir).join(target)).expect("the fuzz directory") {
            let path = entry.expect("a fuzz input").path();
            if path.file_name().is_some_and(|f| f != ".keep") {
                out.push(std::fs::read(&path).expect("a readable fuzz input"));
            }
        }
    }
    assert!(!out.is_empty(), "no seeds for fuzz target {target}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_names() {
        assert_eq!(replace_db_name("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(replace_db_name("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(replace_db_name("postgres://u@h/p?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }
}
