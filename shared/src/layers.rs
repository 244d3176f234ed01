//! The layer rule, checked: every `crate::` path in `shared/src` names a module of a row below
//! its own in the table at the top of `lib.rs`. The table is read from there, so the rule is
//! written once, where a reader meets it.

use std::collections::HashMap;
use std::path::Path;

/// The rows of the table in `lib.rs`'s doc comment, top first, each the modules it names.
fn rows(lib: &str) -> Vec<Vec<String>> {
    lib.lines()
        .filter_map(|line| line.strip_prefix("//! | "))
        .map(|row| row.split('|').next().unwrap_or_default())
        .map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_string).collect::<Vec<_>>())
        .filter(|modules| !modules.is_empty())
        .collect()
}

/// Each module's height: the bottom row is 0.
fn heights(lib: &str) -> HashMap<String, usize> {
    let rows = rows(lib);
    let count = rows.len();
    rows.into_iter().enumerate().flat_map(|(i, modules)| modules.into_iter().map(move |m| (m, count - 1 - i))).collect()
}

/// What `lib.rs` re-exports at the crate root (`pub use app::{App, now};`), by name: the module
/// a `crate::App` really comes from.
fn reexports(lib: &str) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for line in lib.lines() {
        let Some((module, rest)) = line.strip_prefix("pub use ").and_then(|path| path.split_once("::")) else { continue };
        for name in rest.trim_end_matches(';').trim_matches(|c| c == '{' || c == '}').split(',') {
            names.insert(name.trim().to_string(), module.to_string());
        }
    }
    names
}

/// The first segment of every `crate::` path in `source` (each name of a `crate::{a, b::c}`
/// group), with its line number. Comments are skipped: docs may name any module.
fn imports(source: &str) -> Vec<(usize, String)> {
    let code: String = source
        .lines()
        .map(|line| if line.trim_start().starts_with("//") { "" } else { line.split(" // ").next().unwrap_or_default() })
        .collect::<Vec<_>>()
        .join("\n");
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let ident = |text: &str| text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The names at the group's own depth: `crate::{a::{x, y}, b}` imports from a and b.
            let (mut depth, mut item_start) = (0usize, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        found.push((line_of(at + "crate::{".len() + i), ident(&group[i..])));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.push((line_of(at), ident(rest)));
        }
    }
    found
}

/// Every import of `files` (path under `shared/src`, text) that points up or sideways.
fn violations(lib: &str, files: &[(String, String)]) -> Vec<String> {
    let (heights, reexports) = (heights(lib), reexports(lib));
    let mut found = Vec::new();
    for (path, text) in files {
        let from = path.split('/').next().unwrap_or_default().trim_end_matches(".rs");
        let Some(&own) = heights.get(from) else {
            found.push(format!("shared/src/{path}: module `{from}` has no row in the table in lib.rs"));
            continue;
        };
        for (line, name) in imports(text) {
            let to = reexports.get(&name).map_or(name.as_str(), String::as_str);
            match heights.get(to) {
                _ if to == from => {}
                Some(&height) if height < own => {}
                Some(_) => {
                    found.push(format!("shared/src/{path}:{line}: `{from}` imports `crate::{name}` from `{to}`, not a row below it"))
                }
                None => found.push(format!("shared/src/{path}:{line}: `crate::{name}` is in no row of the table in lib.rs")),
            }
        }
    }
    found
}

/// Every `.rs` file under `dir`, as (path relative to `root`, text).
fn sources(root: &Path, dir: &Path, into: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("shared/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(root, &path, into);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let relative = path.strip_prefix(root).expect("under shared/src").to_string_lossy().replace('\\', "/");
            into.push((relative, std::fs::read_to_string(&path).expect("a source file is readable")));
        }
    }
}

#[test]
fn every_import_points_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(root.join("lib.rs")).expect("lib.rs is readable");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    // The crate root declares the layers; this file only reads them.
    files.retain(|(path, _)| path != "lib.rs" && path != "layers.rs");
    assert!(files.len() > 50, "the sources were found");
    let found = violations(&lib, &files);
    assert!(found.is_empty(), "imports against the layers in lib.rs:\n{}", found.join("\n"));
}

#[test]
fn every_module_has_one_row() {
    let lib = include_str!("lib.rs");
    let declared: Vec<&str> = lib.lines().filter_map(|line| line.strip_prefix("pub mod ")?.strip_suffix(';')).collect();
    let mut tabled: Vec<String> = rows(lib).into_iter().flatten().collect();
    tabled.sort();
    assert_eq!(tabled, declared, "each `pub mod` of lib.rs is in exactly one row of its table");
}

#[test]
fn an_import_up_or_sideways_is_named_with_its_file_and_line() {
    let lib = "//! | `top` | t |\n//! | `mid`, `side` | m |\n//! | `low` | l |\npub use top::{Thing, helper};\n";
    let file = |path: &str, text: &str| (path.to_string(), text.to_string());
    let files = [
        file("mid/a.rs", "use crate::low::X;\nuse crate::mid::Y;\n// crate::top in a comment\nuse crate::{low, side::Z};\n"),
        file("mid/b.rs", "fn f() { crate::helper(); }\nuse crate::{\n    low::{P, Q},\n    top::R,\n};\n"),
        file("low.rs", "use crate::nowhere::S;\n"),
        file("extra.rs", ""),
    ];
    assert_eq!(
        violations(lib, &files),
        [
            "shared/src/mid/a.rs:4: `mid` imports `crate::side` from `side`, not a row below it",
            "shared/src/mid/b.rs:1: `mid` imports `crate::helper` from `top`, not a row below it",
            "shared/src/mid/b.rs:4: `mid` imports `crate::top` from `top`, not a row below it",
            "shared/src/low.rs:1: `crate::nowhere` is in no row of the table in lib.rs",
            "shared/src/extra.rs: module `extra` has no row in the table in lib.rs",
        ]
    );
}
