//! The end-to-end harness: starts the real `assistd` binary on `127.0.0.1:0` and
//! reads the address it prints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[allow(unused_imports)]
pub use assistd_common::testing::{TestDb, test_databases};

/// The key every test server accepts.
pub const KEY: &str = "sk-test-e2e";

/// A running server process, killed on drop.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Where its stderr goes.
    pub log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// The path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_assistd")
}

/// How to start a server.
pub struct Launch {
    args: Vec<String>,
    envs: Vec<(String, String)>,
    data_dir: Option<PathBuf>,
}

impl Launch {
    /// `assistd serve` with the test key, on port 0.
    pub fn serve() -> Self {
        Self { args: vec!["serve".into()], envs: vec![("ASSISTD_API_KEYS".into(), KEY.into())], data_dir: None }
    }

    /// `assistd <args…>` with the test key, on port 0.
    pub fn command(args: &[&str]) -> Self {
        Self {
            args: args.iter().map(|s| s.to_string()).collect(),
            envs: vec![("ASSISTD_API_KEYS".into(), KEY.into())],
            data_dir: None,
        }
    }

    /// Adds arguments.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.retain(|(key, _)| key != k);
        self.envs.push((k.into(), v.into()));
        self
    }

    /// Removes an environment variable.
    pub fn without_env(mut self, k: &str) -> Self {
        self.envs.retain(|(key, _)| key != k);
        self
    }

    /// Uses `db` as the database.
    pub fn database(self, db: &TestDb) -> Self {
        if db.backend == "sqlite" { self } else { self.env("ASSISTD_DATABASE_URL", &db.url) }
    }

    /// Uses this data directory (kept by the caller).
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Starts the server and waits until it listens.
    pub fn start(self) -> Server {
        let (dir, data_dir) = match self.data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().expect("tempdir");
                let d = t.path().join("data");
                (Some(t), d)
            }
        };
        std::fs::create_dir_all(&data_dir).unwrap();
        let log = data_dir.join(format!("stderr-{}.log", assistd_common::ids::new_ulid()));
        let mut cmd = Command::new(bin());
        cmd.args(&self.args).args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(&data_dir);
        for (k, _) in std::env::vars() {
            if k.starts_with("ASSISTD_") {
                cmd.env_remove(&k);
            }
        }
        cmd.envs(self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd.spawn().expect("spawning assistd");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("assistd listening on ") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("assistd did not start; stderr:\n{}", std::fs::read_to_string(&log).unwrap_or_default());
            }
        };
        Server { child, base: format!("http://{addr}"), addr, data_dir, log, _dir: dir }
    }
}

impl Server {
    /// A started `assistd serve` on `db`.
    pub fn serve(db: &TestDb) -> Self {
        Launch::serve().database(db).start()
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        self.signal_term();
        self.child.wait().expect("waiting for assistd")
    }

    /// Sends SIGTERM without waiting.
    pub fn signal_term(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("waiting for assistd")
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A REST client with the test key.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// Sends `req` with the test key and returns status and JSON body.
pub async fn call(req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let res = req.bearer_auth(KEY).send().await.expect("request");
    let status = res.status().as_u16();
    assert!(res.headers().contains_key("x-request-id"), "missing x-request-id");
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    };
    (status, body)
}

/// Asserts `body` is an OpenAI error with all four keys.
pub fn assert_error(body: &serde_json::Value, param: Option<&str>) {
    let e = &body["error"];
    for k in ["message", "type", "param", "code"] {
        assert!(e.get(k).is_some(), "error without '{k}': {body}");
    }
    if let Some(p) = param {
        assert_eq!(e["param"], p, "{body}");
    }
}

/// `assistd keys create --project PROJECT` on a data dir (or database): the new key.
pub fn keys_create(data_dir: &std::path::Path, database_url: Option<&str>, project: &str) -> String {
    let mut cmd = Command::new(bin());
    cmd.args(["keys", "create", "--project", project, "--data-dir"]).arg(data_dir);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("sk-") && key.len() > 40, "{key}");
    key
}
