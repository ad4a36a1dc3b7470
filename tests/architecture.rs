//! The one rule of ARCHITECTURE.md, checked on the source itself: imports point down
//! the floors, never up, and no file's imports lead back to it (no loop, not even
//! between a `mod.rs` and its own children).
//!
//! The graph is read as the compiler would resolve the paths: every `crate::a::b`, every
//! `super::x` (and `use super::{x, y}` groups, and `use super::*`), and every path
//! through a child a module declares (`mod heal;` … `heal::reconcile`). Doc comments
//! count too: a link is an import a reader follows.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The floors, lowest first (ARCHITECTURE.md, «Floors, and the one rule»).
const FLOORS: &[(&str, u8)] = &[
    ("error", 1),
    ("codec", 1),
    ("say", 1),
    ("limits", 1),
    ("files", 1),
    ("panics", 1),
    ("parallel", 1),
    ("config", 1),
    ("ledger", 2),
    ("domain", 3),
    ("project", 4),
    ("indicators", 4),
    ("record", 5),
    ("import", 5),
    ("appender", 5),
    ("checkpoint", 5),
    ("bundle", 5),
    ("report", 5),
    ("analysis", 5),
    ("backup", 5),
    ("mirror", 5),
    ("access", 5),
    ("query", 5),
    ("health", 5),
    ("witness", 5),
    ("gen", 5),
    ("cli", 6),
    ("server", 6),
    ("web", 6),
    ("", 7),
    ("main", 7),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `ledger/store.rs` → `ledger::store`; `web/mod.rs` → `web`; `lib.rs` → ``.
fn module_of(rel: &str) -> String {
    let rel = rel.trim_end_matches(".rs");
    let mut parts: Vec<&str> = rel.split('/').collect();
    if matches!(parts.last(), Some(&"mod") | Some(&"lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// The longest known module a path names (`ledger::store::Store` → `ledger::store`).
fn resolve(modules: &BTreeSet<String>, path: &str) -> Option<String> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    (1..=segs.len()).rev().map(|i| segs[..i].join("::")).find(|m| modules.contains(m))
}

fn parent(m: &str) -> String {
    m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string())
}

fn join(base: &str, item: &str) -> String {
    if base.is_empty() {
        item.to_string()
    } else {
        format!("{base}::{item}")
    }
}

/// The edges of one module's source (tests left out: they may reach anywhere).
fn edges_of(m: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let path = regex::Regex::new(r"\b(crate|super)::([A-Za-z_][\w:]*)").unwrap();
    let group = regex::Regex::new(r"\bsuper::\{([^;]*)\};").unwrap();
    let glob = regex::Regex::new(r"(?m)^\s*use super::\*;").unwrap();
    let kids = regex::Regex::new(r"(?m)^\s*(?:pub(?:\([a-z]+\))? )?mod (\w+);").unwrap();
    let mut out = BTreeSet::new();
    let mut add = |target: Option<String>| {
        if let Some(t) = target.filter(|t| t != m) {
            out.insert(t);
        }
    };
    let up = parent(m);
    for c in path.captures_iter(text) {
        let rest = c[2].trim_end_matches(':');
        let full = if &c[1] == "crate" { rest.to_string() } else { join(&up, rest) };
        add(resolve(modules, &full));
    }
    for c in group.captures_iter(text) {
        for item in c[1].split(',') {
            let item = item.trim().split([' ', '{']).next().unwrap_or("").trim_end_matches(':');
            let target = if item.is_empty() || item == "self" { up.clone() } else { join(&up, item) };
            add(resolve(modules, &target).or_else(|| Some(up.clone()).filter(|u| modules.contains(u))));
        }
    }
    if glob.is_match(text) {
        add(Some(up.clone()).filter(|u| modules.contains(u)));
    }
    for c in kids.captures_iter(text) {
        let kid = &c[1];
        if regex::Regex::new(&format!(r"(?:^|[^\w:]){kid}::")).unwrap().is_match(text) {
            add(resolve(modules, &join(m, kid)));
        }
    }
    out
}

fn graph_of(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = files.iter().map(|(rel, _)| module_of(rel)).collect();
    files.iter().map(|(rel, text)| (module_of(rel), edges_of(&module_of(rel), text, &modules))).collect()
}

/// Strongly connected components of more than one module (Tarjan).
fn loops(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                t.out.push(c);
            }
        }
    }
    let mut t =
        T { g, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on: BTreeSet::new(), out: Vec::new() };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn floor(m: &str) -> Option<u8> {
    let top = m.split("::").next().unwrap_or("");
    FLOORS.iter().find(|(name, _)| *name == top).map(|(_, f)| *f)
}

/// Imports from a lower floor to a higher one, and modules with no floor.
fn upward(g: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (a, targets) in g {
        for b in targets {
            match (floor(a), floor(b)) {
                (Some(fa), Some(fb)) if fb > fa => out.push(format!("{a} (floor {fa}) imports {b} (floor {fb})")),
                (None, _) => out.push(format!("{a} has no floor in ARCHITECTURE.md")),
                (_, None) => out.push(format!("{b} has no floor in ARCHITECTURE.md")),
                _ => {}
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

#[test]
fn imports_point_down_and_never_loop() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    assert!(files.len() > 50, "the sources were found ({} files)", files.len());
    let g = graph_of(&files);
    // The reading finds the edges it must (a check that finds nothing proves nothing).
    assert!(g["web::cases"].contains("project::lists"), "{:?}", g["web::cases"]);
    assert!(g["ledger::batch"].contains("ledger::append"), "{:?}", g["ledger::batch"]);
    assert!(g["cli"].contains("cli::served"), "{:?}", g["cli"]);
    assert_eq!(loops(&g), Vec::<Vec<String>>::new(), "import loops");
    assert_eq!(upward(&g), Vec::<String>::new(), "imports that run up a floor");
}

#[test]
fn the_reading_sees_the_loops_it_must_refuse() {
    let files = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    };
    // A parent and its child through `super::{…}` and a child path.
    let g = graph_of(&files(&[
        ("web/mod.rs", "mod state;\npub fn router(w: state::Web) {}\n"),
        ("web/state.rs", "use super::{router};\n"),
    ]));
    assert_eq!(loops(&g), vec![vec!["web".to_string(), "web::state".to_string()]]);
    // Through a glob.
    let g = graph_of(&files(&[
        ("ledger/mod.rs", "mod batch;\nuse batch::Group;\n"),
        ("ledger/batch.rs", "use super::*;\n"),
    ]));
    assert_eq!(loops(&g).len(), 1);
    // Siblings through `crate::` paths, and a doc link.
    let g = graph_of(&files(&[
        ("project/digest.rs", "/// kept by [`summary`](super::summary)\n"),
        ("project/summary.rs", "use crate::project::digest::Digests;\n"),
    ]));
    assert_eq!(loops(&g).len(), 1);
    // A floor climbed: the ground importing the ledger.
    let g = graph_of(&files(&[("error.rs", "use crate::ledger::store;\n"), ("ledger/store.rs", "")]));
    assert_eq!(upward(&g), vec!["error (floor 1) imports ledger::store (floor 2)".to_string()]);
    // Tests may reach anywhere.
    let g = graph_of(&files(&[("error.rs", "#[cfg(test)]\nuse crate::ledger::store;\n"), ("ledger/store.rs", "")]));
    assert!(upward(&g).is_empty());
}

/// JSON read by key in a transport (`v["ledger"]["seq"]`, `.get("definitions")`):
/// the library answers in types, and a renamed member must break the build, not a page.
fn json_lookups(text: &str) -> Vec<String> {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let index = regex::Regex::new(r#"[\w\)\]]\s*\[\s*"[a-z_.]+"\s*\]"#).unwrap();
    let get = regex::Regex::new(r#"\.get\(\s*"[a-z_.]+"\s*\)"#).unwrap();
    index.find_iter(text).chain(get.find_iter(text)).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn transports_read_no_json_by_key() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for dir in ["web", "cli", "server"] {
        let mut files = Vec::new();
        sources(&root.join(dir), &root, &mut files);
        for (rel, text) in files {
            found.extend(json_lookups(&text).into_iter().map(|l| format!("{rel}: {l}")));
        }
    }
    assert_eq!(found, Vec::<String>::new());
    // The reading sees what it must refuse, and lets pass what is not JSON.
    let sample =
        r#"let s = v["ledger"]["seq"]; let d = value.get("definitions"); let a = ["x"]; h.get("x-csrf-token");"#;
    assert_eq!(json_lookups(sample), vec![r#"v["ledger"]"#, r#".get("definitions")"#]);
}

/// Rooms a reader can know (issue 30): no source file over 1,000 lines, and the
/// ledger's core — the storage every figure rests on — in files of at most 600.
fn too_long(files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (rel, text) in files {
        let limit = if rel.starts_with("ledger/") { 600 } else { 1000 };
        let lines = text.lines().count();
        if lines > limit {
            out.push(format!("src/{rel}: {lines} lines (at most {limit})"));
        }
    }
    out
}

#[test]
fn rooms_stay_small() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    assert_eq!(too_long(&files), Vec::<String>::new());
    // The count can fail: a ledger file of 601 lines and another of 1,001 are named.
    let long = |n: usize| "x\n".repeat(n);
    let sample = vec![("ledger/journal.rs".to_string(), long(601)), ("web/cases.rs".to_string(), long(1001))];
    assert_eq!(too_long(&sample).len(), 2);
    assert!(too_long(&[("web/cases.rs".to_string(), long(601))]).is_empty());
}
