//! A pids cgroup per session, where this process may make one (as root on a host with
//! cgroup v1 or v2). It bounds a session's processes when rlimits cannot: a root-owned
//! server's children are exempt from RLIMIT_NPROC.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The directory under which sessions' cgroups are made.
#[derive(Debug)]
pub struct Cgroups {
    base: PathBuf,
    next: AtomicU64,
}

impl Cgroups {
    /// `Some` when a pids cgroup can be made here (tried once, at start).
    pub fn detect() -> Option<Self> {
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let tag = format!("assistd-sandbox-{}-{}", std::process::id(), INSTANCES.fetch_add(1, Ordering::Relaxed));
        let v1 = Path::new("/sys/fs/cgroup/pids");
        let v2 = Path::new("/sys/fs/cgroup");
        let base = if v1.join("cgroup.procs").is_file() {
            v1.join(own_path("pids")?.trim_start_matches('/')).join(tag)
        } else if fs::read_to_string(v2.join("cgroup.controllers"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"))
        {
            let base = v2.join(tag);
            fs::write(v2.join("cgroup.subtree_control"), "+pids").ok()?;
            fs::create_dir_all(&base).ok()?;
            fs::write(base.join("cgroup.subtree_control"), "+pids").ok()?;
            base
        } else {
            return None;
        };
        fs::create_dir_all(&base).ok()?;
        if let Some(parent) = base.parent() {
            remove_stale(parent);
        }
        let cgroups = Self { base, next: AtomicU64::new(0) };
        // proven by making one
        cgroups.session(1).ok()?;
        Some(cgroups)
    }

    /// A new cgroup allowing `max` processes, and its `cgroup.procs` opened for writing.
    pub fn session(&self, max: u64) -> std::io::Result<(Cgroup, OwnedFd)> {
        let dir = self.base.join(format!("s{}", self.next.fetch_add(1, Ordering::Relaxed)));
        fs::create_dir(&dir)?;
        let cgroup = Cgroup { dir };
        fs::write(cgroup.dir.join("pids.max"), max.to_string())?;
        let procs = fs::OpenOptions::new().write(true).open(cgroup.dir.join("cgroup.procs"))?;
        Ok((cgroup, procs.into()))
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        if let Ok(dirs) = fs::read_dir(&self.base) {
            for dir in dirs.flatten().filter(|d| d.path().is_dir()) {
                let _ = fs::remove_dir(dir.path());
            }
        }
        let _ = fs::remove_dir(&self.base);
    }
}

/// One session's cgroup; removed once its processes are gone.
#[derive(Debug)]
pub struct Cgroup {
    dir: PathBuf,
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if fs::remove_dir(&self.dir).is_ok() {
            return;
        }
        // the processes are still being killed: try again for a while
        let dir = std::mem::take(&mut self.dir);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                for _ in 0..50 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if fs::remove_dir(&dir).is_ok() || !dir.exists() {
                        return;
                    }
                }
                tracing::warn!(dir = %dir.display(), "a sandbox cgroup could not be removed");
            });
        }
    }
}

/// Removes what servers that are gone left behind (a cgroup is removable once its
/// processes have ended).
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("assistd-sandbox-").and_then(|r| r.split('-').next()) else { continue };
        if pid.parse::<u32>().is_ok_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists())
        {
            if let Ok(sessions) = fs::read_dir(entry.path()) {
                for s in sessions.flatten().filter(|s| s.path().is_dir()) {
                    let _ = fs::remove_dir(s.path());
                }
            }
            let _ = fs::remove_dir(entry.path());
        }
    }
}

/// This process's path in the v1 hierarchy of `controller`.
fn own_path(controller: &str) -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == controller).then(|| path.to_owned())
    })
}
