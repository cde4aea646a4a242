//! The shape of the workspace, checked from its source: every rule defined is
//! in the catalogue (adding a rule is one place), the core crate's modules
//! import one another in layers with no cycle, the shell's have no cycle
//! either, and the core depends on no I/O, async, TLS or C crate.
//!
//! Reads `src/**/*.rs` and `crates/core/src/**/*.rs` as text: no parser, only
//! the `crate::…`, `super::…` and child-module paths of the code outside
//! comments and test modules.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The core crate's modules, bottom-up (CONTRIBUTING.md, "Architecture").
const CORE: &[&str] = &[
    "text", "spec", "report", "exchange", "parsed", "read", "har", "lint", "fix", "session",
    "diagnose", "redact", "inspect", "resend", "curl", "share",
];

/// Directories whose files count as their parent module: the rules, the
/// contract, the exchange (with its error), the session (with Stremio's)
/// and what is shared are each one layer.
const COLLAPSED: &[&str] = &["lint", "spec", "exchange", "session", "share"];

/// The shell's source (the binary crate).
fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The core crate's source.
fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/core/src")
}

/// How a place in `root` is named in messages: `src/…` or `crates/core/src/…`.
fn label(root: &Path) -> String {
    root.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(root)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Every `.rs` file under `root`, as its path relative to `root` and its text.
fn sources(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            (relative, fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The code of a file without its comments and its test module: `(line number, line)`.
fn code(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|(_, next)| next.trim_start().starts_with("mod "))
        {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push((i + 1, line));
    }
    out
}

// ---------------------------------------------------------------------------
// Adding a rule is one place.

/// `(file, const name, rule id)` of every `const NAME: Rule = Rule { id: "…"`.
fn defined_rules() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let files = [src(), core_src()]
        .into_iter()
        .flat_map(|root| {
            let at = label(&root);
            sources(&root)
                .into_iter()
                .map(move |(file, text)| (format!("{at}/{file}"), text))
        })
        .collect::<Vec<_>>();
    for (file, text) in files {
        let lines = code(&text);
        for (at, (_, line)) in lines.iter().enumerate() {
            let line = line.trim_start();
            let rest = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            let Some(decl) = rest.strip_prefix("const ") else {
                continue;
            };
            let Some((name, ty)) = decl.split_once(':') else {
                continue;
            };
            if !ty.trim().starts_with("Rule = Rule {") {
                continue;
            }
            let id = lines[at + 1..]
                .iter()
                .find_map(|(_, l)| l.trim().strip_prefix("id: \""))
                .and_then(|l| l.split('"').next())
                .unwrap_or_else(|| panic!("{file}: {name} has no `id: \"…\"` line"));
            out.push((file.clone(), name.trim().to_string(), id.to_string()));
        }
    }
    out
}

#[test]
fn every_rule_defined_is_in_the_catalogue_once() {
    let defined = defined_rules();
    assert!(
        defined.len() >= 70,
        "only {} rules found: is the scan still reading `pub const NAME: Rule = Rule {{`?",
        defined.len()
    );
    let catalogue: Vec<&str> = trakt_doctor::lint::catalogue()
        .iter()
        .map(|r| r.id)
        .collect();
    let mut problems = Vec::new();
    for (file, name, id) in &defined {
        if !catalogue.contains(&id.as_str()) {
            problems.push(format!(
                "{file}: {name} ({id}) is not in lint::catalogue(): add it to its module's RULES \
                 (and that RULES to lint::catalogue())"
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for id in &catalogue {
        if !seen.insert(*id) {
            problems.push(format!("{id} is in lint::catalogue() twice"));
        }
    }
    let mut ids = BTreeMap::new();
    for (file, name, id) in &defined {
        if let Some(other) = ids.insert(id.as_str(), format!("{file}: {name}")) {
            problems.push(format!("{id} is defined twice: {other} and {file}: {name}"));
        }
    }
    for id in &catalogue {
        if !ids.contains_key(id) {
            problems.push(format!(
                "{id} is in the catalogue, but no `pub const NAME: Rule = Rule {{` defines it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// No import cycle.

/// The module a file is: `lint/body.rs` is `lint`, `proxy/body.rs` is `proxy::body`.
fn module_of(file: &str) -> Option<String> {
    let file = file.strip_suffix(".rs")?;
    let parts: Vec<&str> = file.split('/').collect();
    match parts.as_slice() {
        ["lib"] | ["main"] => None,
        [top] => Some(top.to_string()),
        [top, "mod"] => Some(top.to_string()),
        [top, _] if COLLAPSED.contains(top) => Some(top.to_string()),
        [top, sub] => Some(format!("{top}::{sub}")),
        _ => Some(parts[..2].join("::")),
    }
}

/// The module a path from the crate root names: `["proxy", "body", "X"]` is
/// `proxy::body` when `src/proxy/body.rs` exists, else `proxy`.
fn resolve(root: &Path, segments: &[String]) -> Option<String> {
    let top = segments.first()?;
    if !root.join(format!("{top}.rs")).exists() && !root.join(top).join("mod.rs").exists() {
        return None;
    }
    match segments.get(1) {
        Some(sub)
            if !COLLAPSED.contains(&top.as_str())
                && root.join(top).join(format!("{sub}.rs")).exists() =>
        {
            Some(format!("{top}::{sub}"))
        }
        _ => Some(top.clone()),
    }
}

/// Reads `a::b::{c, d::e}` from the start of `text`: every path it names.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut prefix: Vec<String> = Vec::new();
    let mut rest = text;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !ident.is_empty() {
            prefix.push(ident.clone());
            rest = &rest[ident.len()..];
            if let Some(after) = rest.strip_prefix("::") {
                rest = after;
                continue;
            }
            out.push(prefix);
            return out;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The group ends at its matching brace; its items are paths under the prefix.
            let mut depth = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        for item in split_top(&group[..i]) {
                            for mut tail in paths(item.trim()) {
                                if tail.first().is_some_and(|s| s == "self") {
                                    tail.remove(0);
                                }
                                let mut path = prefix.clone();
                                path.extend(tail);
                                out.push(path);
                            }
                        }
                        return out;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            return out;
        }
        if !prefix.is_empty() {
            out.push(prefix);
        }
        return out;
    }
}

/// The comma-separated items of a brace group's inside, nested groups kept whole.
fn split_top(inside: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inside.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inside[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inside[start..]);
    items
}

/// `from → to` with the first place that makes the dependency.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// The import graph of the modules of the crate whose source is `root`.
fn graph(root: &Path) -> Graph {
    let at = label(root);
    let mut graph = Graph::new();
    for (file, text) in sources(root) {
        let Some(from) = module_of(&file) else {
            continue;
        };
        graph.entry(from.clone()).or_default();
        let dir: Vec<String> = match file.rsplit_once('/') {
            Some((dir, _)) => vec![dir.to_string()],
            None => vec![],
        };
        let is_mod = file.ends_with("/mod.rs");
        // What `super::` and child paths mean in this file.
        let parent: Vec<String> = if is_mod { vec![] } else { dir.clone() };
        let code = code(&text);
        let joined: String = code.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
        let line_of = |offset: usize| -> usize {
            let before = joined[..offset].matches('\n').count();
            code.get(before).map_or(0, |(n, _)| *n)
        };
        let mut refs: Vec<(usize, Vec<String>)> = Vec::new();
        for (keyword, base) in [("crate::", vec![]), ("super::", parent.clone())] {
            let mut from_offset = 0;
            while let Some(found) = joined[from_offset..].find(keyword) {
                let at = from_offset + found;
                from_offset = at + keyword.len();
                let boundary = joined[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
                if !boundary {
                    continue;
                }
                for path in paths(&joined[at + keyword.len()..]) {
                    let mut full = base.clone();
                    full.extend(path);
                    refs.push((line_of(at), full));
                }
            }
        }
        // `use child::…` in a directory's mod.rs (a `pub use` that re-exports
        // a child is the directory's facade, not a use of the child).
        if is_mod {
            for (n, line) in &code {
                if let Some(rest) = line.trim_start().strip_prefix("use ") {
                    for path in paths(rest) {
                        let mut full = dir.clone();
                        full.extend(path);
                        refs.push((*n, full));
                    }
                }
            }
        }
        for (line, path) in refs {
            let Some(to) = resolve(root, &path) else {
                continue;
            };
            if to != from {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| format!("{at}/{file}:{line}"));
            }
        }
    }
    graph
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flat_map(|e| e.keys()) {
            let w = w.as_str();
            if !s.graph.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

/// A component's modules and one cycle through them, with where each
/// import is: `{a, b}, e.g. a → b (src/a.rs:3) → a (…)`.
fn describe(graph: &Graph, component: &[String]) -> String {
    let start = &component[0];
    // Breadth-first from start's successors back to start, inside the component.
    let mut previous: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.as_str()]);
    'search: while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().filter(|w| component.contains(w)) {
            if w == start {
                previous.insert("<start>", v);
                break 'search;
            }
            if !previous.contains_key(w.as_str()) {
                previous.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    let mut path = vec![start.as_str()];
    let mut at = previous["<start>"];
    while at != start {
        path.push(at);
        at = previous[at];
    }
    path.push(start);
    path.reverse();
    let mut out = format!("{{{}}}, e.g. {}", component.join(", "), path[0]);
    for pair in path.windows(2) {
        out.push_str(&format!(" → {} ({})", pair[1], graph[pair[0]][pair[1]]));
    }
    out
}

fn restricted(graph: &Graph, keep: impl Fn(&str) -> bool) -> Graph {
    graph
        .iter()
        .filter(|(v, _)| keep(v))
        .map(|(v, edges)| {
            let edges = edges
                .iter()
                .filter(|(w, _)| keep(w))
                .map(|(w, at)| (w.clone(), at.clone()))
                .collect();
            (v.clone(), edges)
        })
        .collect()
}

#[test]
fn the_module_graph_is_read_from_the_source() {
    let core = graph(&core_src());
    for module in CORE {
        assert!(core.contains_key(*module), "no module {module} in {core:?}");
    }
    let shell = graph(&src());
    // Known edges, so a broken reader cannot pass the cycle checks by seeing nothing.
    for (graph, from, to) in [
        (&core, "exchange", "report"),
        (&core, "lint", "spec"),
        (&core, "inspect", "session"),
        (&shell, "proxy", "proxy::body"),
        (&shell, "log::jsonl", "log"),
    ] {
        assert!(
            graph[from].contains_key(to),
            "{from} → {to} missing: {:?}",
            graph[from]
        );
    }
    let mut a = Graph::new();
    a.entry("a".into())
        .or_default()
        .insert("b".into(), "x".into());
    a.entry("b".into())
        .or_default()
        .insert("a".into(), "y".into());
    let found = cycles(&a);
    assert_eq!(found, vec![vec!["a".to_string(), "b".to_string()]]);
    assert_eq!(describe(&a, &found[0]), "{a, b}, e.g. a → b (x) → a (y)");
}

#[test]
fn the_core_modules_form_no_import_cycle() {
    let core = graph(&core_src());
    let found: Vec<String> = cycles(&core)
        .iter()
        .map(|component| format!("  {}", describe(&core, component)))
        .collect();
    assert!(
        found.is_empty(),
        "the core modules import one another in a cycle; move the shared type or helper down a \
         layer (text, spec, report, exchange, lint, …; CONTRIBUTING.md \"Architecture\"):\n{}",
        found.join("\n")
    );
    let unknown: Vec<&String> = core
        .keys()
        .filter(|m| !CORE.contains(&m.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "core modules missing from CORE in tests/architecture.rs: {unknown:?}"
    );
}

#[test]
fn the_shell_has_no_import_cycle() {
    let graph = graph(&src());
    let found: Vec<String> = cycles(&graph)
        .iter()
        .map(|component| {
            let sub = restricted(&graph, |m| component.iter().any(|c| c == m));
            format!("  {}", describe(&sub, component))
        })
        .collect();
    assert!(
        found.is_empty(),
        "modules import one another in a cycle:\n{}",
        found.join("\n")
    );
}

/// The core builds for the browser and does no I/O: none of the crates it
/// depends on, directly or not, is an async runtime, an HTTP stack, TLS,
/// a C library binding or a source of randomness or time.
#[test]
fn the_core_depends_on_no_io_async_tls_or_c_crate() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "trakt-doctor-core",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--target",
            "all",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    let names: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        names.contains("trakt-doctor-core") && names.contains("serde_json"),
        "{tree}"
    );
    const FORBIDDEN: &[&str] = &[
        // (libc itself is allowed: sha2's CPU feature probe reads it on ARM.)
        "tokio",
        "hyper",
        "hyper-util",
        "rustls",
        "ring",
        "aws-lc-rs",
        "cc",
        "mio",
        "socket2",
        "getrandom",
        "rcgen",
        "mimalloc",
        "libmimalloc-sys",
    ];
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|c| names.contains(**c)).collect();
    assert!(found.is_empty(), "the core depends on {found:?}:\n{tree}");
}
