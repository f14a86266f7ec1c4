//! Tidy checks on the source tree, so the architecture stays what docs/ARCHITECTURE.md says:
//! layers only point down, the engine crate links no CLI or comparison dependency, and there
//! is one SplitMix64 in the tree.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The engine's modules, lowest layer first. A module may use its own layer and those below.
const LAYERS: &[&[&str]] = &[
    &["limits", "planted", "rng", "test_hooks"],
    // One layer: the calendar types return the engine's error, errors name model types and the
    // format's file names, and the header codec reports errors.
    &["model", "error", "format"],
    &["codec", "io"],
    &["wal"],
    &["state", "store", "frozen"],
    &["query"],
    &["replica"],
    &["db"],
    &["lib", "handles"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a line names through `crate::` (paths and `use crate::{a, b::c}`).
fn crate_refs(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group, skipping nested braces.
            let mut depth = 0;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(std::mem::take(&mut name));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 && (c.is_alphanumeric() || c == '_') {
                    name.push(c);
                } else if depth == 0 && c == ':' {
                    // `a::b`: the top-level name is complete; ignore the rest.
                    name.push(':');
                }
            }
            out.push(name);
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out.into_iter()
        .map(|n| n.split(':').next().unwrap_or("").trim().to_string())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

#[test]
fn layers_only_point_down() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut upward = BTreeSet::new();
    for file in &files {
        let module = module_of(&src, file);
        let Some(own) = layer_of(&module) else {
            panic!(
                "{}: module `{module}` has no layer in tests/tidy.rs",
                file.display()
            );
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            // Unit tests may reach anywhere; they end every file that has them.
            if code.starts_with("#[cfg(test)]") {
                break;
            }
            if code.starts_with("//") {
                continue;
            }
            for used in crate_refs(code) {
                // Items of the crate root (re-exports, macros) count as the root's layer.
                let theirs = layer_of(&used).unwrap_or(layer_of("lib").unwrap());
                if theirs > own {
                    upward.insert(format!(
                        "{}:{}: `{module}` uses `{used}`, a layer above it",
                        file.strip_prefix(&src).unwrap().display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "upward uses:\n{}",
        upward.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_engine_crate_links_no_cli_or_comparison_dependency() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut section = String::new();
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_string();
        } else if section == "[dependencies]" && !line.is_empty() && !line.starts_with('#') {
            deps.push(line.split(['=', ' ']).next().unwrap().to_string());
        }
    }
    assert!(
        deps.iter().any(|d| d == "sled"),
        "parsed no dependencies: {deps:?}"
    );
    for banned in [
        "clap",
        "indicatif",
        "postgres",
        "rusqlite",
        "tokio",
        "tracing-subscriber",
    ] {
        assert!(
            !deps.iter().any(|d| d == banned),
            "the engine crate depends on {banned}"
        );
    }
}

#[test]
fn one_splitmix64_in_the_tree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src",
        "tests",
        "workload",
        "cli",
        "benches",
        "fuzz/src",
        "fuzz/fuzz_targets",
        "examples",
    ] {
        if root.join(dir).exists() {
            rust_files(&root.join(dir), &mut files);
        }
    }
    let mut defining = Vec::new();
    for file in files {
        if file.ends_with("tidy.rs") {
            continue;
        }
        // SplitMix64 is its increment and its two multipliers.
        let text = std::fs::read_to_string(&file)
            .unwrap()
            .to_lowercase()
            .replace('_', "");
        if [
            "0x9e3779b97f4a7c15",
            "0xbf58476d1ce4e5b9",
            "0x94d049bb133111eb",
        ]
        .iter()
        .all(|c| text.contains(c))
        {
            defining.push(file.strip_prefix(root).unwrap().display().to_string());
        }
    }
    assert_eq!(defining.len(), 1, "SplitMix64 is defined in: {defining:?}");
}
