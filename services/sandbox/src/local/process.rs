//! One session's process: the driver in bubblewrap, and the framed JSON it speaks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::cgroup::{Cgroup, Cgroups};
use super::spawn::{self, Runtime};
use crate::{InputFile, Limits, OutputFile, SandboxError, SandboxResult};

const DRIVER: &str = include_str!("driver.py");
/// stderr of bwrap and the driver kept for saying why a session ended.
const STDERR_TAIL: usize = 2048;

pub struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<String>>,
    /// The ids of the input files put in `/mnt/data`.
    pub files: HashSet<String>,
    max_reply: usize,
    _cgroup: Option<Cgroup>,
}

/// The driver's reply to a cell.
#[derive(Deserialize)]
pub struct Reply {
    #[serde(default)]
    pub logs: String,
    #[serde(default)]
    pub truncated: bool,
    #[serde(default)]
    pub error: bool,
    #[serde(default)]
    images: Vec<String>,
    #[serde(default)]
    files: Vec<WireFile>,
    /// Set instead of the rest when the driver itself failed.
    pub fatal: Option<String>,
}

#[derive(Deserialize)]
struct WireFile {
    name: String,
    data: String,
}

impl Reply {
    pub fn images(&self) -> Vec<Bytes> {
        self.images.iter().filter_map(|b| B64.decode(b).ok()).map(Bytes::from).collect()
    }

    pub fn files(&self) -> Vec<OutputFile> {
        self.files
            .iter()
            .filter_map(|f| Some(OutputFile { name: f.name.clone(), data: B64.decode(&f.data).ok()?.into() }))
            .collect()
    }
}

impl Process {
    pub async fn start(runtime: &Runtime, limits: &Limits, cgroups: Option<&Cgroups>) -> SandboxResult<Self> {
        let mut command = runtime.command(limits, DRIVER);
        let cgroup = match cgroups.map(|c| c.session(limits.processes)).transpose() {
            Ok(cgroup) => cgroup,
            Err(e) => return Err(SandboxError::Internal(format!("making the session's cgroup: {e}"))),
        };
        spawn::limit(&mut command, limits, cgroup.as_ref().map(|(_, fd)| fd));
        let mut child = command
            .spawn()
            .map_err(|e| SandboxError::Unavailable(format!("cannot start {}: {e}", runtime.bwrap.display())))?;
        let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = (stdin, stdout, stderr) else {
            return Err(SandboxError::Internal("the session's pipes are missing".into()));
        };
        let tail = Arc::new(Mutex::new(String::new()));
        tokio::spawn(keep_tail(stderr, tail.clone()));
        // images and changed files come back base64 in one frame
        let max_reply =
            (limits.data_bytes as usize).saturating_mul(2) + (limits.output_bytes as usize) * 4 + (64 << 20);
        Ok(Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: tail,
            files: HashSet::new(),
            max_reply,
            _cgroup: cgroup.map(|(c, _)| c),
        })
    }

    /// Puts files in `/mnt/data/<name>`.
    pub async fn put(&mut self, files: &[InputFile]) -> std::io::Result<()> {
        let wire: Vec<_> =
            files.iter().map(|f| serde_json::json!({"name": f.name, "data": B64.encode(&f.data)})).collect();
        let reply: serde_json::Value = self.request(&serde_json::json!({"op": "put", "files": wire})).await?;
        if reply.get("ok").and_then(|v| v.as_bool()) != Some(true) {
            let why = reply.get("fatal").and_then(|v| v.as_str()).unwrap_or("no reason given");
            return Err(std::io::Error::other(format!("putting files failed: {why}")));
        }
        self.files.extend(files.iter().map(|f| f.id.clone()));
        Ok(())
    }

    pub async fn exec(&mut self, code: &str) -> std::io::Result<Reply> {
        self.request(&serde_json::json!({"op": "exec", "code": code})).await
    }

    async fn request<T: for<'de> Deserialize<'de>>(&mut self, request: &serde_json::Value) -> std::io::Result<T> {
        let body = serde_json::to_vec(request)?;
        let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("request too large"))?;
        self.stdin.write_all(&len.to_be_bytes()).await?;
        self.stdin.write_all(&body).await?;
        self.stdin.flush().await?;
        let len = self.stdout.read_u32().await? as usize;
        if len > self.max_reply {
            return Err(std::io::Error::other(format!("a reply of {len} bytes from the sandbox")));
        }
        let mut body = vec![0; len];
        self.stdout.read_exact(&mut body).await?;
        serde_json::from_slice(&body)
            .map_err(|e| std::io::Error::other(format!("a malformed reply from the sandbox: {e}")))
    }

    /// Ends the process and says how it ended, for the model and the logs.
    pub async fn end(mut self) -> String {
        let _ = self.child.start_kill();
        let status = self.child.wait().await;
        // let the stderr reader take the last lines
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let tail = self.stderr.lock().map(|t| t.trim().to_owned()).unwrap_or_default();
        describe(status.ok(), &tail)
    }

    /// `true` while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// A session's ending in words: the limit that ended it where that can be told.
fn describe(status: Option<std::process::ExitStatus>, stderr: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let code = status.and_then(|s| s.code().or(s.signal().map(|sig| 128 + sig)));
    let why = match code {
        Some(c) if c == 128 + libc::SIGXCPU => "CPU time limit exceeded".to_owned(),
        Some(c) if c == 128 + libc::SIGXFSZ => "file size limit exceeded".to_owned(),
        Some(c) if c == 128 + libc::SIGKILL => "the sandbox process was killed".to_owned(),
        Some(c) if c == 128 + libc::SIGSEGV => "the sandbox process crashed (memory limit exceeded?)".to_owned(),
        Some(c) => format!("the sandbox process exited with status {c}"),
        None => "the sandbox process ended".to_owned(),
    };
    if stderr.is_empty() { why } else { format!("{why}: {stderr}") }
}

async fn keep_tail(stderr: impl AsyncRead + Unpin, tail: Arc<Mutex<String>>) {
    let mut stderr = stderr;
    let mut buf = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if let Ok(mut t) = tail.lock() {
            t.push_str(&String::from_utf8_lossy(&buf[..n]));
            if t.len() > STDERR_TAIL {
                let cut = t.len() - STDERR_TAIL;
                let cut = (cut..t.len()).find(|&i| t.is_char_boundary(i)).unwrap_or(t.len());
                t.drain(..cut);
            }
        }
    }
}
