//! The code_interpreter tool in runs: the model calls the `code_interpreter` function
//! with Python code; the engine runs it in the thread's sandbox session (one per
//! thread, keeping its variables and files between calls), with the run's input files
//! in `/mnt/data`, and stores what the code drew or wrote as files (purpose
//! `assistants_output`). The code streams to the client as the model writes it.

use assistd_common::files_client::Files;
use assistd_common::{Project, ServiceError};
use assistd_proto::pb;
use assistd_sandbox::{Cell, Execution, InputFile, Outcome, Sandbox, SandboxError, SessionKey};
use bytes::Bytes;

use crate::domain::{CodeFile, CodeOutput, Run, RunError};
use crate::peers::Caller;

/// The largest input file put in `/mnt/data`.
const MAX_INPUT_BYTES: u64 = 512 << 20;

/// Where the code stands in the arguments being streamed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the `"code": "` of a JSON object.
    #[default]
    Key,
    /// Inside the code string, at byte `at` of the arguments.
    InCode { at: usize },
    /// The string ended (or nothing more can be read from it).
    Done,
    /// The arguments are not JSON: the model wrote the code itself.
    Raw,
}

/// The code of a call, decoded from its JSON arguments as they stream in, so that the
/// client sees code (as OpenAI streams `input`), not JSON.
#[derive(Debug, Default)]
pub struct CodeStream {
    raw: String,
    state: State,
}

impl CodeStream {
    /// Adds a fragment of the arguments; returns the code it completes (maybe "").
    pub fn feed(&mut self, fragment: &str) -> String {
        self.raw.push_str(fragment);
        if self.state == State::Raw {
            return fragment.to_owned();
        }
        if self.state == State::Key {
            let trimmed = self.raw.trim_start();
            if !trimmed.is_empty() && !trimmed.starts_with('{') {
                self.state = State::Raw;
                return self.raw.clone();
            }
            match code_start(&self.raw) {
                Some(at) => self.state = State::InCode { at },
                None => return String::new(),
            }
        }
        let State::InCode { at } = self.state else { return String::new() };
        let (decoded, next) = decode(&self.raw[at..]);
        self.state = match next {
            Some(n) => State::InCode { at: at + n },
            None => State::Done,
        };
        decoded
    }
}

/// The byte after the opening quote of the `code` string, once the arguments have it.
fn code_start(raw: &str) -> Option<usize> {
    let key = raw.find("\"code\"")?;
    let rest = &raw[key + 6..];
    let colon = rest.len() - rest.trim_start().len();
    let rest2 = rest.trim_start().strip_prefix(':')?;
    let space = rest2.len() - rest2.trim_start().len();
    rest2.trim_start().strip_prefix('"')?;
    Some(key + 6 + colon + 1 + space + 1)
}

/// Decodes a JSON string body from its start: the text, and how many bytes were read
/// (`None` once the closing quote is reached). An escape cut by the end of what has
/// arrived waits for the next fragment.
fn decode(s: &str) -> (String, Option<usize>) {
    let mut out = String::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        match bytes[i] {
            b'"' => return (out, None),
            b'\\' => {
                let Some(&e) = bytes.get(i + 1) else { break };
                let simple = match e {
                    b'n' => Some('\n'),
                    b't' => Some('\t'),
                    b'r' => Some('\r'),
                    b'b' => Some('\u{8}'),
                    b'f' => Some('\u{c}'),
                    b'"' => Some('"'),
                    b'\\' => Some('\\'),
                    b'/' => Some('/'),
                    b'u' => None,
                    _ => return (out, None),
                };
                if let Some(c) = simple {
                    out.push(c);
                    i += 2;
                    continue;
                }
                let Some(hex) = s.get(i + 2..i + 6) else { break };
                let Ok(unit) = u16::from_str_radix(hex, 16) else { return (out, None) };
                if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate: the low one follows as another \uXXXX.
                    let Some(low) = s.get(i + 6..i + 12) else { break };
                    let low = low.strip_prefix("\\u").and_then(|h| u16::from_str_radix(h, 16).ok());
                    let c = low.and_then(|l| char::decode_utf16([unit, l]).next()?.ok());
                    out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                    i += 12;
                } else {
                    out.push(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER));
                    i += 6;
                }
            }
            _ => {
                let c = s[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    (out, Some(i))
}

/// The code of a call from its complete arguments: `{"code": "..."}`, or the
/// arguments themselves when they are not that (a model that wrote bare code).
pub fn code_of(arguments: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(arguments) {
        Ok(v) => match v.get("code").and_then(|c| c.as_str()) {
            Some(code) => code.to_owned(),
            None if v.is_object() => String::new(),
            None => arguments.to_owned(),
        },
        Err(_) => arguments.to_owned(),
    }
}

/// An input file: its id and its name in `/mnt/data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    pub id: String,
    pub name: String,
}

/// The ids of the files code_interpreter gets in a run, in order and once each: the
/// assistant's and the thread's `tool_resources.code_interpreter`, the run's own, and
/// the thread's message attachments for code_interpreter.
pub fn input_file_ids(
    assistant: Option<&pb::Assistant>,
    thread: Option<&pb::Thread>,
    run: &Run,
    messages: &[pb::Message],
) -> Vec<String> {
    let of = |r: Option<&pb::ToolResources>| -> Vec<String> {
        r.and_then(|r| r.code_interpreter.as_ref()).map(|c| c.file_ids.clone()).unwrap_or_default()
    };
    let run_own = run
        .spec
        .tool_resources
        .as_ref()
        .and_then(|r| r.code_interpreter.as_ref())
        .map(|c| c.file_ids.clone())
        .unwrap_or_default();
    let attached = messages
        .iter()
        .flat_map(|m| m.attachments.iter())
        .filter(|a| a.tools.iter().any(|t| t == "code_interpreter"))
        .map(|a| a.file_id.clone());
    let mut out: Vec<String> = Vec::new();
    for id in of(assistant.and_then(|a| a.tool_resources.as_ref()))
        .into_iter()
        .chain(of(thread.and_then(|t| t.tool_resources.as_ref())))
        .chain(run_own)
        .chain(attached)
    {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// Names the files: each under its own name, or `file-…-name` when two share one.
pub fn name_inputs(files: Vec<(String, String)>) -> Vec<InputRef> {
    let mut out: Vec<InputRef> = Vec::new();
    for (id, name) in files {
        let name = if name.is_empty() || out.iter().any(|f| f.name == name) { format!("{id}-{name}") } else { name };
        out.push(InputRef { id, name });
    }
    out
}

/// Why a call could not run: the run fails with this error.
pub type CallFailure = RunError;

fn sandbox_failure(e: SandboxError) -> Result<Execution, CallFailure> {
    match e {
        SandboxError::Unavailable(m) => Err(RunError::server(format!("code_interpreter is unavailable: {m}"))),
        SandboxError::Busy(m) => Err(RunError { code: "rate_limit_exceeded".into(), message: m }),
        // Something the code asked for that cannot be (too much data): the model reads why.
        SandboxError::Invalid(m) => {
            Ok(Execution { outcome: Outcome::Failed, logs: format!("Error: {m}\n"), images: vec![], files: vec![] })
        }
        SandboxError::MissingFiles(ids) => {
            Err(RunError::server(format!("code_interpreter could not put files {ids:?} in the sandbox")))
        }
        SandboxError::Internal(m) => Err(RunError::server(format!("code_interpreter failed: {m}"))),
    }
}

fn service_failure(what: &str, e: ServiceError) -> CallFailure {
    RunError::server(format!("code_interpreter could not {what}: {}", e.message))
}

fn no_files() -> CallFailure {
    RunError::server(
        "code_interpreter is unavailable: this process does not reach the files service (give --upstream files=URL)",
    )
}

/// Runs `code` in the thread's session with `inputs` in `/mnt/data`: files the session
/// lacks are downloaded and sent (once); a file deleted meanwhile is left out. The
/// files service (`files`) is needed only when there are files to send.
pub async fn execute(
    sandbox: &dyn Sandbox,
    files: Option<&Files>,
    caller: &Caller,
    session: SessionKey,
    inputs: &[InputRef],
    code: String,
) -> Result<Execution, CallFailure> {
    let mut expect: Vec<String> = inputs.iter().map(|f| f.id.clone()).collect();
    let mut sent: Vec<InputFile> = Vec::new();
    for attempt in 0..2 {
        let cell = Cell { session: session.clone(), expect: expect.clone(), files: sent.clone(), code: code.clone() };
        match sandbox.execute(cell).await {
            Ok(done) => return Ok(done),
            Err(SandboxError::MissingFiles(missing)) if attempt == 0 => {
                let files = files.ok_or_else(no_files)?;
                sent.clear();
                for id in missing {
                    let Some(input) = inputs.iter().find(|f| f.id == id) else { continue };
                    match files.download(caller, &id, MAX_INPUT_BYTES).await {
                        Ok((_, data)) => {
                            sent.push(InputFile { id: id.clone(), name: input.name.clone(), data: Bytes::from(data) })
                        }
                        Err(e) if e.kind == assistd_common::error::ErrorKind::NotFound => {
                            tracing::warn!(file_id = %id, "a code_interpreter file is gone; left out");
                            expect.retain(|x| x != &id);
                        }
                        Err(e) => return Err(service_failure(&format!("read file {id}"), e)),
                    }
                }
            }
            Err(e) => return sandbox_failure(e),
        }
    }
    sandbox_failure(SandboxError::MissingFiles(expect))
}

/// The session of a run's thread.
pub fn session(project: &Project, run: &Run) -> SessionKey {
    SessionKey::new(project.id(), &run.thread_id)
}

/// Stores what a cell produced: its logs, its figures (as PNG files) and the files it
/// wrote; the outputs as the step shows them, and the files written. The files service
/// (`files`) is needed only when there are figures or files.
pub async fn store_outputs(
    files: Option<&Files>,
    caller: &Caller,
    call_id: &str,
    done: Execution,
) -> Result<(Vec<CodeOutput>, Vec<CodeFile>), CallFailure> {
    let mut outputs = Vec::new();
    if !done.logs.is_empty() {
        outputs.push(CodeOutput::Logs { logs: done.logs });
    }
    if done.images.is_empty() && done.files.is_empty() {
        return Ok((outputs, vec![]));
    }
    let files = files.ok_or_else(no_files)?;
    for (n, png) in done.images.into_iter().enumerate() {
        let name = format!("{call_id}-image-{n}.png");
        let file = files.upload_output(caller, &name, png).await.map_err(|e| service_failure("store a figure", e))?;
        outputs.push(CodeOutput::Image { file_id: file.id });
    }
    let mut written = Vec::new();
    for f in done.files {
        let base = f.name.rsplit('/').next().unwrap_or(&f.name).to_owned();
        let file = files.upload_output(caller, &base, f.data).await.map_err(|e| service_failure("store a file", e))?;
        written.push(CodeFile { path: f.name, file_id: file.id });
    }
    Ok((outputs, written))
}

/// `file_path` annotations for the `sandbox:/mnt/data/…` links in `text` to files the
/// run's code wrote (character offsets, as OpenAI gives them).
pub fn file_paths(text: &str, written: &[CodeFile]) -> Vec<pb::Annotation> {
    const PREFIX: &str = "sandbox:/mnt/data/";
    let mut out = Vec::new();
    for (at, _) in text.match_indices(PREFIX) {
        let rest = &text[at + PREFIX.len()..];
        // The longest written path the link names, ending where the path ends.
        let hit = written
            .iter()
            .filter(|f| {
                rest.starts_with(&f.path)
                    && !rest[f.path.len()..].chars().next().is_some_and(|c| {
                        c.is_alphanumeric()
                            || matches!(c, '_' | '-' | '/')
                            || (c == '.' && rest[f.path.len() + 1..].starts_with(|c: char| c.is_alphanumeric()))
                    })
            })
            .max_by_key(|f| f.path.len());
        if let Some(f) = hit {
            let end = at + PREFIX.len() + f.path.len();
            let start_index = text[..at].chars().count() as u32;
            let len = text[at..end].chars().count() as u32;
            out.push(pb::Annotation {
                text: text[at..end].to_owned(),
                start_index,
                end_index: start_index + len,
                kind: Some(pb::annotation::Kind::FilePath(pb::FileRef { file_id: f.file_id.clone() })),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(fragments: &[&str]) -> String {
        let mut s = CodeStream::default();
        fragments.iter().map(|f| s.feed(f)).collect()
    }

    #[test]
    fn streams_the_code_out_of_json_fragments() {
        let whole = r#"{"code": "print(\"h\u00e9\")\nx = 1\t# \ud83d\ude00"}"#;
        let want = "print(\"hé\")\nx = 1\t# 😀";
        assert_eq!(code_of(whole), want);
        // Every split of the arguments gives the same code.
        for cut in 1..whole.len() {
            if !whole.is_char_boundary(cut) {
                continue;
            }
            assert_eq!(streamed(&[&whole[..cut], &whole[cut..]]), want, "cut at {cut}");
        }
        let bytes: Vec<String> = whole.chars().map(String::from).collect();
        assert_eq!(streamed(&bytes.iter().map(String::as_str).collect::<Vec<_>>()), want);
    }

    #[test]
    fn bare_code_is_the_code() {
        assert_eq!(streamed(&["print(", "1)"]), "print(1)");
        assert_eq!(code_of("print(1)"), "print(1)");
        assert_eq!(code_of(r#"{"other": 1}"#), "");
        assert_eq!(streamed(&[r#"{"other": 1}"#]), "");
    }

    #[test]
    fn links_to_written_files_become_file_paths() {
        let written = vec![
            CodeFile { path: "out.csv".into(), file_id: "file-1".into() },
            CodeFile { path: "plots/a.png".into(), file_id: "file-2".into() },
        ];
        let text = "Här: [csv](sandbox:/mnt/data/out.csv). And sandbox:/mnt/data/plots/a.png, not sandbox:/mnt/data/out.csv2 or sandbox:/mnt/data/nope.txt";
        let a = file_paths(text, &written);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].text, "sandbox:/mnt/data/out.csv");
        let chars: Vec<char> = text.chars().collect();
        let at = |x: &pb::Annotation| chars[x.start_index as usize..x.end_index as usize].iter().collect::<String>();
        assert_eq!(at(&a[0]), a[0].text);
        assert_eq!(at(&a[1]), "sandbox:/mnt/data/plots/a.png");
        assert_eq!(a[1].kind, Some(pb::annotation::Kind::FilePath(pb::FileRef { file_id: "file-2".into() })));
    }

    #[test]
    fn input_names_are_unique() {
        let named = name_inputs(vec![("file-a".into(), "d.csv".into()), ("file-b".into(), "d.csv".into())]);
        assert_eq!(named[0].name, "d.csv");
        assert_eq!(named[1].name, "file-b-d.csv");
    }
}
