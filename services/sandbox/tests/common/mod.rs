//! What the sandbox tests share: the sessions' Python (made by scripts/setup-sandbox
//! when missing, so that these tests run rather than skip) and a sandbox with limits.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

pub use assistd_sandbox::Limits;
use assistd_sandbox::local::LocalSandbox;
use assistd_sandbox::{Cell, Execution, InputFile, Outcome, Sandbox, SessionKey};

pub fn python() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = match std::env::var_os("ASSISTD_SANDBOX_PYTHON") {
            Some(dir) => PathBuf::from(dir),
            None => assistd_sandbox::local::default_python(),
        };
        if !dir.join(".requirements.sha256").is_file() {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-sandbox");
            let status = std::process::Command::new(&script)
                .env("ASSISTD_SANDBOX_PYTHON", &dir)
                .status()
                .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
            assert!(status.success(), "{} failed ({status}); it needs network access to PyPI", script.display());
        }
        dir
    })
}

/// Limits small enough for tests to reach quickly.
pub fn limits() -> Limits {
    Limits {
        wall_time: Duration::from_secs(10),
        cpu_time: Duration::from_secs(60),
        memory_bytes: 1 << 30,
        processes: 32,
        file_bytes: 8 << 20,
        data_bytes: 16 << 20,
        tmp_bytes: 8 << 20,
        output_bytes: 16 << 10,
        idle: Duration::from_secs(600),
        max_sessions: 8,
    }
}

pub fn sandbox(limits: Limits) -> LocalSandbox {
    let sandbox = LocalSandbox::new(None, python(), limits);
    sandbox.available().expect("the sandbox can run here");
    sandbox
}

pub fn key(owner: &str) -> SessionKey {
    SessionKey::new("proj_test", owner)
}

pub async fn run(sandbox: &LocalSandbox, owner: &str, code: &str) -> Execution {
    run_with(sandbox, owner, vec![], code).await
}

pub async fn run_with(sandbox: &LocalSandbox, owner: &str, files: Vec<InputFile>, code: &str) -> Execution {
    let expect = files.iter().map(|f| f.id.clone()).collect();
    let cell = Cell { session: key(owner), expect, files, code: code.to_owned() };
    sandbox.execute(cell).await.expect("the cell ran")
}

/// Runs `code` and asserts it completed; its logs.
pub async fn ok(sandbox: &LocalSandbox, owner: &str, code: &str) -> String {
    let e = run(sandbox, owner, code).await;
    assert_eq!(e.outcome, Outcome::Completed, "logs: {}", e.logs);
    e.logs
}
