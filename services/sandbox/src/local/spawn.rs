//! Starting one session's process: the bubblewrap command line (what of the host the
//! session sees) and the limits set on it before it starts (rlimits, a pids cgroup).
//!
//! The one module of this crate with `unsafe`: `pre_exec`, which runs in the child
//! between fork and exec, where only async-signal-safe calls (setrlimit, prctl, write)
//! are made.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::Limits;

/// Where the driver runs from: bwrap, and the Python the sessions use (a virtualenv,
/// bound read-only at `/opt/python`, or an interpreter under `/usr`).
#[derive(Clone, Debug)]
pub struct Runtime {
    pub bwrap: PathBuf,
    /// The interpreter's path inside the sandbox.
    interpreter: PathBuf,
    /// Read-only binds (host path, path inside) beyond the system's own directories.
    binds: Vec<(PathBuf, PathBuf)>,
}

const VENV_MOUNT: &str = "/opt/python";

impl Runtime {
    /// The runtime for `python`: a virtualenv directory (with `pyvenv.cfg`) or an
    /// interpreter; `Err` says what is missing.
    pub fn new(bwrap: Option<PathBuf>, python: &Path) -> Result<Self, String> {
        let bwrap = match bwrap.or_else(|| find_in_path("bwrap")) {
            Some(path) if path.is_file() => path,
            _ => return Err("bubblewrap (bwrap) is not installed: install the `bubblewrap` package".into()),
        };
        let cfg = python.join("pyvenv.cfg");
        if cfg.is_file() {
            let interpreter = PathBuf::from(VENV_MOUNT).join("bin/python3");
            if !python.join("bin/python3").exists() {
                return Err(format!("{} has no bin/python3", python.display()));
            }
            let mut binds = vec![(python.to_path_buf(), PathBuf::from(VENV_MOUNT))];
            // the venv's base interpreter, where it is not under /usr
            let text = std::fs::read_to_string(&cfg).map_err(|e| format!("{}: {e}", cfg.display()))?;
            let home = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k.trim() == "home")
                .map(|(_, v)| PathBuf::from(v.trim()));
            if let Some(prefix) = home.as_deref().and_then(Path::parent)
                && !prefix.starts_with("/usr")
            {
                binds.push((prefix.to_path_buf(), prefix.to_path_buf()));
            }
            if is_root() {
                binds.iter().try_for_each(|(host, _)| reachable_by_others(host))?;
            }
            return Ok(Self { bwrap, interpreter, binds });
        }
        if python.is_file() && python.starts_with("/usr") {
            return Ok(Self { bwrap, interpreter: python.to_path_buf(), binds: vec![] });
        }
        Err(format!(
            "no Python for the sandbox at {} (run scripts/setup-sandbox, or point ASSISTD_SANDBOX_PYTHON at a virtualenv)",
            python.display()
        ))
    }

    /// The bwrap command for a session: its own user, pid, network, ipc, uts and cgroup
    /// namespaces, no environment but what the driver needs, `/usr` and the libraries
    /// read-only, private tmpfs `/tmp`, `/mnt/data` and `/run/cell`, and nothing else of
    /// the host (no `/etc`, no home, no data dir).
    pub fn command(&self, limits: &Limits, driver: &str) -> tokio::process::Command {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
        push(&["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"]);
        push(&["--uid", "1000", "--gid", "1000", "--hostname", "sandbox", "--clearenv"]);
        let cap = limits.output_bytes.to_string();
        for (k, v) in [
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("HOME", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("MPLBACKEND", "Agg"),
            ("MPLCONFIGDIR", "/tmp/.matplotlib"),
            ("OPENBLAS_NUM_THREADS", "1"),
            ("OMP_NUM_THREADS", "1"),
            ("MKL_NUM_THREADS", "1"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("ASSISTD_OUTPUT_CAP", cap.as_str()),
        ] {
            push(&["--setenv", k, v]);
        }
        push(&["--ro-bind", "/usr", "/usr"]);
        for dir in ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] {
            match std::fs::read_link(dir) {
                Ok(target) => {
                    let target = target.to_string_lossy().into_owned();
                    push(&["--symlink", target.as_str(), dir]);
                }
                Err(_) if Path::new(dir).is_dir() => push(&["--ro-bind", dir, dir]),
                Err(_) => {}
            }
        }
        for path in ["/etc/alternatives", "/etc/fonts", "/etc/ld.so.cache", "/etc/localtime"] {
            push(&["--ro-bind-try", path, path]);
        }
        push(&["--proc", "/proc", "--dev", "/dev"]);
        let sizes = [
            ("/tmp", limits.tmp_bytes),
            ("/mnt/data", limits.data_bytes),
            ("/run/cell", limits.output_bytes * 2 + (64 << 10)),
        ];
        for (path, size) in sizes {
            let size = size.to_string();
            push(&["--size", size.as_str(), "--tmpfs", path]);
        }
        for (host, inside) in &self.binds {
            args.push("--ro-bind".into());
            args.push(host.into());
            args.push(inside.into());
        }
        push_all(&mut args, &["--remount-ro", "/", "--chdir", "/mnt/data", "--"]);
        args.push(self.interpreter.clone().into_os_string());
        args.extend(["-I".into(), "-c".into(), driver.into()]);

        let mut command = tokio::process::Command::new(&self.bwrap);
        command
            .args(args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }
}

/// Sets the session's limits in the child before it execs bwrap: a place in `cgroup` (an
/// open `cgroup.procs`) where there is one, rlimits (inherited by everything in the
/// sandbox), the sandbox user when the server is root, and death with the server.
///
/// RLIMIT_NPROC counts every process of the user, so it is the bound of all sessions
/// together (and, for a server that is not root, of the server's own threads too); one
/// session's bound is the pids cgroup where there is one.
pub fn limit(command: &mut tokio::process::Command, limits: &Limits, cgroup: Option<&OwnedFd>) {
    let cpu = limits.cpu_time.as_secs().max(1);
    let root = is_root();
    let own_threads = if root { 0 } else { own_threads() };
    let nproc = limits.processes.saturating_mul(limits.max_sessions as u64).saturating_add(own_threads);
    let rlimits = [
        (libc::RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
        (libc::RLIMIT_CPU, cpu, cpu + 5),
        (libc::RLIMIT_FSIZE, limits.file_bytes, limits.file_bytes),
        (libc::RLIMIT_NPROC, nproc, nproc),
        (libc::RLIMIT_NOFILE, 256, 256),
        (libc::RLIMIT_CORE, 0, 0),
    ];
    let procs = cgroup.map(|fd| fd.as_raw_fd());
    // SAFETY: the closure runs between fork and exec and makes only async-signal-safe
    // calls on values prepared before the fork.
    unsafe {
        command.pre_exec(move || {
            if let Some(fd) = procs
                && libc::write(fd, b"0".as_ptr().cast(), 1) != 1
            {
                return Err(std::io::Error::last_os_error());
            }
            for (resource, soft, hard) in rlimits {
                let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if root
                && (libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(SANDBOX_UID) != 0
                    || libc::setuid(SANDBOX_UID) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            // after setuid, which clears it
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn push_all(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

/// The host user sessions run as when the server runs as root: never root itself, whose
/// id would pass the kernel's owner checks (on /proc/sys, /proc/sysrq-trigger) even
/// without capabilities.
pub const SANDBOX_UID: u32 = 65534;

/// Where the sessions' virtualenv is unless configured: `/var/cache/assistd/sandbox` for
/// root (whose home the sandbox user cannot enter), else `~/.cache/assistd/sandbox`.
pub fn default_python() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) if !is_root() => PathBuf::from(home).join(".cache/assistd/sandbox"),
        _ => PathBuf::from("/var/cache/assistd/sandbox"),
    }
}

/// `Err` unless every directory above `path` lets others through and `path` lets
/// others read: the sandbox user, not root, opens it.
fn reachable_by_others(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = path.canonicalize().map_err(|e| format!("{}: {e}", path.display()))?;
    for dir in path.ancestors() {
        let mode = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?.permissions().mode();
        let need = if dir == path { 0o005 } else { 0o001 };
        if mode & need != need {
            return Err(format!(
                "{} is not readable by the sandbox user (uid {SANDBOX_UID}; sessions never run as root): {} has mode {:o}; \
                 put the sandbox's Python elsewhere, e.g. ASSISTD_SANDBOX_PYTHON=/var/cache/assistd/sandbox",
                path.display(),
                dir.display(),
                mode & 0o777
            ));
        }
    }
    Ok(())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Threads of this process (the server), from /proc.
fn own_threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Threads:").and_then(|n| n.trim().parse().ok())))
        .unwrap_or(256)
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}
