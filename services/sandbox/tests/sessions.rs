//! Sessions as the code interpreter uses them: state between cells, input and output
//! files, charts, errors, limits and cancellation.

mod common;

use std::time::{Duration, Instant};

use assistd_sandbox::{Cell, InputFile, Outcome, Sandbox, SandboxError};
use common::*;

#[tokio::test]
async fn state_is_kept_between_cells_of_a_session_and_not_shared_with_another() {
    let sb = sandbox(limits());
    assert_eq!(ok(&sb, "t1", "x = 41\nprint('set')").await, "set\n");
    assert_eq!(ok(&sb, "t1", "x + 1").await, "42\n", "the last bare expression is shown");
    let other = run(&sb, "t2", "x").await;
    assert_eq!(other.outcome, Outcome::Failed);
    assert!(other.logs.contains("NameError: name 'x' is not defined"), "{}", other.logs);
}

#[tokio::test]
async fn the_math_tutor_solves_with_sympy() {
    let sb = sandbox(limits());
    let logs =
        ok(&sb, "t", "from sympy import symbols, Eq, solve\nx = symbols('x')\nprint(solve(Eq(3*x + 11, 14), x))").await;
    assert_eq!(logs, "[1]\n");
}

#[tokio::test]
async fn input_files_are_put_once_and_missing_ones_are_asked_for() {
    let sb = sandbox(limits());
    let csv = InputFile { id: "file-a".into(), name: "sales.csv".into(), data: "month,total\njan,10\nfeb,32\n".into() };
    // the session lacks the file and the cell does not carry it
    let cell = Cell { session: key("t"), expect: vec!["file-a".into()], files: vec![], code: "1".into() };
    match sb.execute(cell.clone()).await {
        Err(SandboxError::MissingFiles(ids)) => assert_eq!(ids, ["file-a"]),
        other => panic!("expected MissingFiles, got {other:?}"),
    }
    let e = run_with(
        &sb,
        "t",
        vec![csv],
        "import pandas as pd\ndf = pd.read_csv('/mnt/data/sales.csv')\nprint(df.total.sum())",
    )
    .await;
    assert_eq!((e.outcome, e.logs.as_str()), (Outcome::Completed, "42\n"));
    assert!(e.files.is_empty(), "an input file the cell did not change is not an output: {:?}", e.files);
    // now it is there: expecting it needs no resend
    let e = sb.execute(Cell { code: "print(len(open('sales.csv').read()))".into(), ..cell }).await.unwrap();
    assert_eq!(e.logs, "26\n");
}

#[tokio::test]
async fn a_chart_comes_back_as_png_and_written_files_as_outputs() {
    let sb = sandbox(limits());
    let code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title('squares')\n\
                open('/mnt/data/out.csv', 'w').write('a,b\\n1,2\\n')\nimport os; os.makedirs('sub', exist_ok=True)\n\
                open('sub/n.txt', 'w').write('x')";
    let e = run(&sb, "t", code).await;
    assert_eq!(e.outcome, Outcome::Completed, "{}", e.logs);
    assert_eq!(e.images.len(), 1);
    assert!(e.images[0].starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let mut names: Vec<_> = e.files.iter().map(|f| (f.name.as_str(), f.data.as_ref())).collect();
    names.sort();
    assert_eq!(names, [("out.csv", b"a,b\n1,2\n".as_ref()), ("sub/n.txt", b"x".as_ref())]);
    // figures are closed once sent; an unchanged file is not sent again
    let e = run(&sb, "t", "print('again')").await;
    assert!(e.images.is_empty() && e.files.is_empty());
}

#[tokio::test]
async fn an_exception_returns_its_traceback_and_the_session_goes_on() {
    let sb = sandbox(limits());
    ok(&sb, "t", "y = 2").await;
    let e = run(&sb, "t", "print('before')\n1 / 0").await;
    assert_eq!(e.outcome, Outcome::Failed);
    assert!(e.logs.starts_with("before\n"), "{}", e.logs);
    assert!(e.logs.contains("ZeroDivisionError: division by zero"), "{}", e.logs);
    let e = run(&sb, "t", "print(y").await;
    assert!(e.logs.contains("SyntaxError"), "{}", e.logs);
    assert_eq!(ok(&sb, "t", "y").await, "2\n");
}

#[tokio::test]
async fn a_cell_past_the_wall_time_is_stopped_and_the_next_starts_fresh() {
    let sb = sandbox(common::Limits { wall_time: Duration::from_secs(2), ..limits() });
    ok(&sb, "t", "z = 1").await;
    let started = Instant::now();
    let e = run(&sb, "t", "while True: pass").await;
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!((e.outcome, e.logs.as_str()), (Outcome::TimedOut, "execution timed out after 2 s"));
    let e = run(&sb, "t", "z").await;
    assert!(e.logs.contains("NameError"), "a new session: {}", e.logs);
}

#[tokio::test]
async fn dropping_a_running_cell_kills_it() {
    let sb = sandbox(limits());
    ok(&sb, "t", "w = 1").await;
    let cell = run(&sb, "t", "import time\nopen('/mnt/data/started', 'w').close()\ntime.sleep(60)");
    assert!(tokio::time::timeout(Duration::from_millis(1500), cell).await.is_err());
    let started = Instant::now();
    let e = run(&sb, "t", "import os; print(os.path.exists('/mnt/data/started'))").await;
    assert!(started.elapsed() < Duration::from_secs(5), "the next cell did not wait for the dropped one");
    assert_eq!(e.logs, "False\n", "the killed session's files are gone");
}

#[tokio::test]
async fn output_is_capped_with_a_marker() {
    let sb = sandbox(limits());
    let e =
        run(&sb, "t", "import os\nfor i in range(20000): print('line', i)\nos.system('yes | head -c 100000')").await;
    assert_eq!(e.outcome, Outcome::Completed);
    assert!(e.logs.starts_with("line 0\nline 1\n"));
    assert!(e.logs.ends_with("[output truncated: more than 16384 bytes]"), "{}", &e.logs[e.logs.len() - 80..]);
    assert!(e.logs.len() < 17 << 10);
}

#[tokio::test]
async fn sessions_are_bounded_and_closed_ones_free_their_place() {
    let sb = sandbox(common::Limits { max_sessions: 2, ..limits() });
    ok(&sb, "a", "1").await;
    ok(&sb, "b", "1").await;
    match sb.execute(Cell { session: key("c"), expect: vec![], files: vec![], code: "1".into() }).await {
        Err(SandboxError::Busy(m)) => assert!(m.contains("too many code interpreter sessions"), "{m}"),
        other => panic!("expected Busy, got {other:?}"),
    }
    sb.close(&key("a")).await;
    ok(&sb, "c", "1").await;
    assert_eq!(sb.open_sessions(), 2);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let sb = sandbox(common::Limits { idle: Duration::from_millis(400), ..limits() });
    ok(&sb, "t", "v = 1").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sb.open_sessions(), 0);
    assert!(run(&sb, "t", "v").await.logs.contains("NameError"));
}

#[tokio::test]
async fn a_missing_bwrap_is_a_clear_error() {
    let sb = assistd_sandbox::local::LocalSandbox::new(Some("/nonexistent/bwrap".into()), python(), limits());
    let why = sb.available().unwrap_err();
    assert!(why.contains("bubblewrap"), "{why}");
    let err =
        sb.execute(Cell { session: key("t"), expect: vec![], files: vec![], code: "1".into() }).await.unwrap_err();
    assert!(matches!(err, SandboxError::Unavailable(_)), "{err:?}");
}
