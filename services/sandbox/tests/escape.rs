//! Hostile cells: each case asserts that the sandbox held, and that the sandbox still
//! runs a normal cell afterwards.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use assistd_sandbox::local::LocalSandbox;
use assistd_sandbox::{Outcome, Sandbox};
use common::*;

/// After each attack: a fresh session still works.
async fn still_works(sb: &LocalSandbox) {
    assert_eq!(ok(sb, "after", "print(6 * 7)").await, "42\n");
}

#[tokio::test]
async fn no_network_not_even_loopback() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sb = sandbox(limits());
    let code = format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('connected')\n\
         except OSError as e:\n    print('refused', e.errno)"
    );
    let logs = ok(&sb, "t", &code).await;
    assert!(logs.starts_with("refused"), "{logs}");
    assert!(listener.accept().is_err(), "nothing reached the listener");
    let logs = ok(
        &sb,
        "t",
        "import socket\ntry:\n    print(socket.gethostbyname('pypi.org'))\nexcept OSError as e:\n    print('no dns')",
    )
    .await;
    assert_eq!(logs, "no dns\n");
    still_works(&sb).await;
}

#[tokio::test]
async fn the_host_files_and_environment_are_not_there() {
    let secret_dir = tempfile_dir();
    std::fs::write(secret_dir.join("assistd.db"), "secret rows").unwrap();
    let sb = sandbox(limits());
    for path in [
        secret_dir.join("assistd.db").display().to_string(),
        "/etc/shadow".into(),
        "/etc/passwd".into(),
        std::env::var("HOME").unwrap() + "/.bashrc",
        format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR")),
    ] {
        let logs = ok(&sb, "t", &format!("import os\nprint(os.path.exists({path:?}))")).await;
        assert_eq!(logs, "False\n", "{path} is visible");
    }
    // the server's environment: none of it, whether by os.environ or /proc/1/environ
    let logs = ok(&sb, "t", "import os\nprint(sorted(os.environ))\nprint(open('/proc/1/environ','rb').read())").await;
    for leak in ["CARGO", "ASSISTD_API_KEYS", "RUST", "HOME=/root"] {
        assert!(!logs.contains(leak), "{leak} visible: {logs}");
    }
    // only the sandbox's own processes
    let logs = ok(&sb, "t", "import os\nprint(len([p for p in os.listdir('/proc') if p.isdigit()]))").await;
    let n: usize = logs.trim().parse().unwrap();
    assert!(n <= 3, "{n} processes visible");
    std::fs::remove_dir_all(secret_dir).unwrap();
    still_works(&sb).await;
}

#[tokio::test]
async fn nothing_outside_its_tmpfs_is_writable() {
    let sb = sandbox(limits());
    let code = "import os\nfor p in ['/usr/x', '/opt/python/x', '/x', '/etc/x', '/proc/sys/kernel/hostname']:\n    \
                try:\n        open(p, 'w').write('x')\n        print('WROTE', p)\n    except OSError as e:\n        print('no', p)";
    let logs = ok(&sb, "t", code).await;
    assert!(!logs.contains("WROTE"), "{logs}");
    still_works(&sb).await;
}

#[tokio::test]
async fn another_sessions_files_are_out_of_reach() {
    let sb = sandbox(limits());
    ok(&sb, "owner", "open('/mnt/data/private.txt', 'w').write('mine')").await;
    let logs = ok(
        &sb,
        "intruder",
        "import os\nprint(os.listdir('/mnt/data'), os.path.exists('/proc/2/root/mnt/data/private.txt'))",
    )
    .await;
    assert_eq!(logs, "[] False\n");
}

#[tokio::test]
async fn a_fork_bomb_is_contained() {
    let sb = sandbox(limits());
    let code = "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time; time.sleep(30); os._exit(0)\n        n += 1\n\
                except OSError as e:\n    print('stopped after', n)";
    let e = run(&sb, "t", code).await;
    assert!(e.logs.contains("stopped after") || e.outcome != Outcome::Completed, "{}", e.logs);
    if let Some(n) = e.logs.trim().strip_prefix("stopped after ") {
        assert!(n.parse::<u64>().unwrap() < 32, "{n} processes");
    }
    sb.close(&key("t")).await;
    still_works(&sb).await;
}

#[tokio::test]
async fn a_memory_bomb_says_memory_limit_exceeded() {
    let sb = sandbox(limits());
    let e = run(&sb, "t", "x = []\nwhile True: x.append(bytearray(50 << 20))").await;
    assert!(e.logs.contains("memory limit exceeded"), "{:?} {}", e.outcome, e.logs);
    still_works(&sb).await;
}

#[tokio::test]
async fn a_cpu_loop_and_a_disk_filling_loop_are_stopped() {
    let sb = sandbox(common::Limits { wall_time: Duration::from_secs(2), ..limits() });
    let started = Instant::now();
    let e = run(&sb, "cpu", "while True: pass").await;
    assert_eq!(e.outcome, Outcome::TimedOut);
    assert!(started.elapsed() < Duration::from_secs(5));
    // 16 MiB of /mnt/data, 8 MiB per file
    let e =
        run(&sb, "disk", "i = 0\nwhile True:\n    open(f'/mnt/data/f{i}', 'wb').write(b'x' * (1 << 20)); i += 1").await;
    assert_eq!(e.outcome, Outcome::Failed);
    assert!(e.logs.contains("No space left on device"), "{}", e.logs);
    let e = run(&sb, "disk2", "open('/mnt/data/big', 'wb').write(b'x' * (9 << 20))").await;
    assert!(e.logs.contains("File too large"), "{}", e.logs);
    let e = run(&sb, "tmp", "open('/tmp/big', 'wb').write(b'x' * (12 << 20))").await;
    assert!(e.logs.contains("No space left") || e.logs.contains("File too large"), "{}", e.logs);
    still_works(&sb).await;
}

#[tokio::test]
async fn a_hundred_megabytes_of_stdout_is_cut() {
    let sb = sandbox(limits());
    let e = run(&sb, "t", "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(100): sys.stdout.write(chunk)").await;
    assert_eq!(e.outcome, Outcome::Completed);
    assert!(e.logs.len() < 17 << 10, "{}", e.logs.len());
    assert!(e.logs.ends_with("]"), "a marker");
    still_works(&sb).await;
}

#[tokio::test]
async fn kill_all_and_ptrace_end_only_the_session() {
    let sb = sandbox(limits());
    let e = run(&sb, "t", "import os\nos.system('kill -9 -1')").await;
    assert_eq!(e.outcome, Outcome::Ended, "{}", e.logs);
    // the server's pid, and every pid up to it: none of the host's processes is there
    let me = std::process::id();
    let code = format!(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         hits = [p for p in range(2, {me} + 2) if p != os.getpid() and libc.ptrace(16, p, 0, 0) == 0]\nprint(hits)"
    );
    let logs = ok(&sb, "t2", &code).await;
    let hits: Vec<u32> = logs.trim().trim_matches(['[', ']']).split(", ").filter_map(|p| p.parse().ok()).collect();
    assert!(hits.iter().all(|&p| p < 4), "ptrace reached {hits:?}");
    still_works(&sb).await;
}

fn tempfile_dir() -> std::path::PathBuf {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut bytes).unwrap();
    let dir = std::env::temp_dir().join(format!("assistd-escape-{}", u64::from_le_bytes(bytes)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
