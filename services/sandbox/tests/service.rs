//! The sandbox as a peer: `SandboxService` over the local sandbox, reached through
//! `RemoteSandbox` on an in-process channel (as runs reach it in one process; split mode
//! swaps the channel for a network one).

mod common;

use std::sync::Arc;

use assistd_sandbox::grpc::SandboxServer;
use assistd_sandbox::remote::RemoteSandbox;
use assistd_sandbox::{Cell, InputFile, Outcome, Sandbox, SandboxError, SessionKey};
use common::*;

fn remote(limits: Limits) -> RemoteSandbox {
    let server = SandboxServer::new(Arc::new(sandbox(limits))).into_server();
    RemoteSandbox::new(assistd_common::channel::in_process(server), None)
}

fn cell(project: &str, owner: &str, code: &str) -> Cell {
    Cell { session: SessionKey::new(project, owner), expect: vec![], files: vec![], code: code.into() }
}

#[tokio::test]
async fn cells_files_and_charts_cross_the_service() {
    let sb = remote(limits());
    let csv = InputFile { id: "file-1".into(), name: "a.csv".into(), data: "x\n1\n2\n".into() };
    let missing = sb.execute(Cell { expect: vec!["file-1".into()], ..cell("p", "t", "1") }).await;
    assert!(matches!(missing, Err(SandboxError::MissingFiles(ref ids)) if ids == &["file-1"]), "{missing:?}");
    let code = "import pandas as pd, matplotlib.pyplot as plt\ns = pd.read_csv('a.csv').x.sum()\nplt.plot([s])\n\
                open('out.txt', 'w').write(str(s))\nprint(s)";
    let e = sb.execute(Cell { expect: vec!["file-1".into()], files: vec![csv], ..cell("p", "t", code) }).await.unwrap();
    assert_eq!((e.outcome, e.logs.as_str()), (Outcome::Completed, "3\n"));
    assert_eq!(e.images.len(), 1);
    assert_eq!((e.files[0].name.as_str(), e.files[0].data.as_ref()), ("out.txt", b"3".as_ref()));
    // the same owner in another project is another session
    let other = sb.execute(cell("q", "t", "s")).await.unwrap();
    assert!(other.logs.contains("NameError"), "{}", other.logs);
    let e = sb.execute(cell("p", "t", "print(s * 2)")).await.unwrap();
    assert_eq!(e.logs, "6\n");
    sb.close(&SessionKey::new("p", "t")).await;
    assert!(sb.execute(cell("p", "t", "s")).await.unwrap().logs.contains("NameError"));
}

#[tokio::test]
async fn errors_keep_their_meaning_across_the_service() {
    let sb = remote(common::Limits { max_sessions: 1, ..limits() });
    sb.execute(cell("p", "a", "1")).await.unwrap();
    assert!(matches!(sb.execute(cell("p", "b", "1")).await, Err(SandboxError::Busy(_))));
    let bad = InputFile { id: "f".into(), name: "..".into(), data: "x".into() };
    let r = sb.execute(Cell { files: vec![bad], ..cell("p", "a", "1") }).await;
    assert!(matches!(r, Err(SandboxError::Invalid(_))), "{r:?}");

    let off = assistd_sandbox::local::LocalSandbox::new(Some("/nonexistent/bwrap".into()), python(), limits());
    let server = SandboxServer::new(Arc::new(off)).into_server();
    let sb = RemoteSandbox::new(assistd_common::channel::in_process(server), None);
    match sb.execute(cell("p", "a", "1")).await {
        Err(SandboxError::Unavailable(m)) => assert!(m.contains("bubblewrap"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
