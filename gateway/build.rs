//! Embeds the playground (`playground/dist`, built by `scripts/build-playground`) in
//! the binary: writes `$OUT_DIR/playground.rs` with one `(path, bytes)` entry per
//! file. Without a build, the page served says how to make one.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn files(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, root, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path));
        }
    }
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let source = manifest.join("../playground");
    let dist = source.join("dist");
    let mut found = Vec::new();
    if dist.join("index.html").is_file() {
        files(&dist, &dist, &mut found);
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        // Watch the source folder so that a build made later is picked up.
        println!("cargo:rerun-if-changed={}", source.display());
    }
    found.sort();
    let mut code = String::from(
        "/// The playground's files: path under `/playground/`, bytes.\npub static FILES: &[(&str, &[u8])] = &[\n",
    );
    for (rel, path) in &found {
        code.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("playground.rs");
    fs::write(out, code).expect("writing playground.rs");
}
