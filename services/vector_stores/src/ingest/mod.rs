//! The front half of ingestion: an uploaded file becomes plain text ([`parse`]), and the
//! text becomes overlapping windows of tokens ([`chunk`]), the units that are embedded,
//! indexed and returned by `file_search`. Both are plain synchronous, CPU-bound code: the
//! caller runs them on a blocking thread. Failures carry messages meant for people, which
//! end up in the vector store file's `last_error` (`unsupported_file` / `invalid_file`).

pub mod chunk;
pub mod parse;

/// Real documents for the tests (PDF, DOCX, Markdown) come from npm packages fetched by
/// `scripts/fetch-fixtures`, never from the repository.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    /// The packages `scripts/fetch-fixtures` unpacks, with the marker it writes last.
    const PACKAGES: [(&str, &str); 3] = [("pdf-parse", "1.1.1"), ("mammoth", "1.13.0"), ("commonmark-spec", "0.31.2")];

    /// The fixtures dir (`$ASSISTD_FIXTURES`, else `~/.cache/assistd/fixtures`), running
    /// `scripts/fetch-fixtures` first (once per test process) when something is missing.
    pub(crate) fn dir() -> &'static Path {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        DIR.get_or_init(|| {
            let dir = match std::env::var_os("ASSISTD_FIXTURES") {
                Some(dir) => PathBuf::from(dir),
                None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/assistd/fixtures"),
            };
            let complete = PACKAGES.iter().all(|(pkg, ver)| dir.join(pkg).join(format!(".fetched-{ver}")).is_file());
            if !complete {
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-fixtures");
                let status = std::process::Command::new(&script)
                    .arg(&dir)
                    .status()
                    .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
                assert!(status.success(), "{} failed ({status}); it needs network access to npm", script.display());
            }
            dir
        })
    }

    /// A file of one fixture package, e.g. `file("mammoth", "test/test-data/tables.docx")`.
    pub(crate) fn file(package: &str, path: &str) -> PathBuf {
        dir().join(package).join(path)
    }
}
