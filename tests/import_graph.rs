//! The shape of `src/`: no import circle among its files, and no file too
//! big to read in one sitting.
//!
//! The graph: one node per file of `src/` (test-only files left out), and an
//! edge from a file to every file whose module it names: `use crate::…`,
//! `use super::…`, `use self::…`, a child module used by name, and the same
//! paths inline in code, types and macro bodies (`crate::x::y(…)`). A path
//! resolves to the deepest module that has a file, so `crate::engine::retry::
//! x` points at `engine/retry.rs` and `crate::engine::Env` at
//! `engine/mod.rs`. A module's `mod` declarations and its `pub use` of its
//! own descendants are its facade, not a dependency, so they are no edges;
//! everything else is.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// A module path from the crate root, e.g. `["engine", "retry"]`.
type ModPath = Vec<String>;

/// One parsed file of the crate.
struct SourceFile {
    module: ModPath,
    /// `mod foo;` declarations, and whether each is `#[cfg(test)]`.
    children: Vec<(String, bool)>,
    ast: syn::File,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// Every `.rs` file under `dir`, with its module path.
fn module_files(src: &Path) -> Vec<(ModPath, PathBuf)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(src).unwrap();
            let mut parts: Vec<String> = rel
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            (parts, p)
        })
        .collect()
}

/// Collects the module paths one file refers to.
struct Refs<'a> {
    module: &'a [String],
    children: BTreeSet<String>,
    /// (absolute path, is a `pub use` re-export)
    found: Vec<(ModPath, bool)>,
    in_pub_use: bool,
}

impl Refs<'_> {
    /// Absolute segments for a path written in this file, or `None` for
    /// an external crate or a name that is no module of ours.
    fn absolute(&self, segs: &[String]) -> Option<ModPath> {
        let first = segs.first()?;
        let mut base: ModPath = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.module.to_vec(),
            "super" => {
                let mut m = self.module.to_vec();
                let mut rest = segs;
                while rest.first().is_some_and(|s| s == "super") {
                    m.pop();
                    rest = &rest[1..];
                }
                m.extend(rest.iter().cloned());
                return Some(m);
            }
            name if self.children.contains(name) => {
                let mut m = self.module.to_vec();
                m.push(name.to_owned());
                m.extend(segs[1..].iter().cloned());
                return Some(m);
            }
            _ => return None,
        };
        base.extend(segs[1..].iter().cloned());
        Some(base)
    }

    fn record(&mut self, segs: &[String]) {
        if let Some(p) = self.absolute(segs) {
            self.found.push((p, self.in_pub_use));
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.record(prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.record(prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    /// `crate :: a :: b` (and `super ::`, `self ::`) inside macro bodies.
    fn tokens(&mut self, ts: TokenStream) {
        let toks: Vec<TokenTree> = ts.into_iter().collect();
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id)
                    if ["crate", "super", "self"].contains(&id.to_string().as_str()) =>
                {
                    let mut segs = vec![id.to_string()];
                    let mut j = i + 1;
                    while j + 2 < toks.len() + 1 {
                        let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) =
                            (toks.get(j), toks.get(j + 1))
                        else {
                            break;
                        };
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        match toks.get(j + 2) {
                            Some(TokenTree::Ident(n)) => segs.push(n.to_string()),
                            _ => break,
                        }
                        j += 3;
                    }
                    if segs.len() > 1 {
                        self.record(&segs);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Refs<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Use(u) => &u.attrs,
            _ => &[],
        };
        if is_cfg_test(attrs) {
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.in_pub_use = matches!(u.vis, syn::Visibility::Public(_));
        self.use_tree(&mut Vec::new(), &u.tree);
        self.in_pub_use = false;
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        if segs.len() > 1 {
            self.record(&segs);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }
}

/// The file-level graph of a crate given as (module path, source text).
fn graph(sources: &[(ModPath, String)]) -> BTreeMap<ModPath, BTreeSet<ModPath>> {
    let files: Vec<SourceFile> = sources
        .iter()
        .map(|(module, text)| {
            let ast = syn::parse_file(text).unwrap_or_else(|e| panic!("{}: {e}", module.join("/")));
            let children = ast
                .items
                .iter()
                .filter_map(|i| match i {
                    syn::Item::Mod(m) if m.content.is_none() => {
                        Some((m.ident.to_string(), is_cfg_test(&m.attrs)))
                    }
                    _ => None,
                })
                .collect();
            SourceFile {
                module: module.clone(),
                children,
                ast,
            }
        })
        .collect();
    // Test-only files: declared `#[cfg(test)] mod x;`, and all below them.
    let mut test_only: BTreeSet<ModPath> = BTreeSet::new();
    for f in &files {
        for (c, test) in &f.children {
            if *test {
                let mut m = f.module.clone();
                m.push(c.clone());
                test_only.insert(m);
            }
        }
    }
    let is_test = |m: &ModPath| test_only.iter().any(|t| m.starts_with(t));
    let known: BTreeSet<ModPath> = files
        .iter()
        .map(|f| f.module.clone())
        .filter(|m| !is_test(m))
        .collect();
    let resolve = |p: &ModPath| -> Option<ModPath> {
        (0..=p.len())
            .rev()
            .map(|n| p[..n].to_vec())
            .find(|m| known.contains(m))
    };
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for f in files.iter().filter(|f| known.contains(&f.module)) {
        let mut refs = Refs {
            module: &f.module,
            children: f.children.iter().map(|(c, _)| c.clone()).collect(),
            found: Vec::new(),
            in_pub_use: false,
        };
        refs.visit_file(&f.ast);
        let out = edges.entry(f.module.clone()).or_default();
        for (path, pub_use) in refs.found {
            let Some(target) = resolve(&path) else {
                continue;
            };
            let facade = pub_use && target.starts_with(&f.module);
            if target != f.module && !facade {
                out.insert(target);
            }
        }
    }
    edges
}

/// Every circle, each as the files along it, found by a depth-first walk
/// from every node (one circle per strongly connected set is enough).
fn circles(edges: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    fn dfs(
        node: &ModPath,
        edges: &BTreeMap<ModPath, BTreeSet<ModPath>>,
        stack: &mut Vec<ModPath>,
        done: &mut BTreeSet<ModPath>,
        out: &mut Vec<Vec<ModPath>>,
    ) {
        if let Some(pos) = stack.iter().position(|n| n == node) {
            let mut circle = stack[pos..].to_vec();
            circle.push(node.clone());
            out.push(circle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            dfs(next, edges, stack, done, out);
        }
        stack.pop();
        done.insert(node.clone());
    }
    let mut out = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        dfs(node, edges, &mut Vec::new(), &mut done, &mut out);
    }
    out
}

fn crate_sources() -> Vec<(ModPath, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    module_files(&src)
        .into_iter()
        .map(|(m, p)| (m, std::fs::read_to_string(p).unwrap()))
        .collect()
}

#[test]
fn import_graph_src_has_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let names: BTreeMap<ModPath, String> = module_files(&src)
        .into_iter()
        .map(|(m, p)| (m, p.strip_prefix(&src).unwrap().display().to_string()))
        .collect();
    let edges = graph(&crate_sources());
    assert!(
        edges.len() > 20,
        "the walk found too few files: {}",
        edges.len()
    );
    let found = circles(&edges);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            c.iter()
                .map(|m| names.get(m).cloned().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" -> ")
        })
        .collect();
    assert!(
        shown.is_empty(),
        "import circles in src/:\n{}",
        shown.join("\n")
    );
}

#[test]
fn import_graph_finds_a_planted_circle_through_use_paths_and_macros() {
    let m = |s: &str| -> ModPath {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split('/').map(str::to_owned).collect()
        }
    };
    let lib = "pub mod a; pub mod b; pub mod c; #[cfg(test)] mod t;".to_owned();
    let planted = vec![
        (m(""), lib.clone()),
        (m("a"), "use crate::b::X; pub struct Y;".into()),
        (
            m("b"),
            "pub struct X; fn f() { let _ = format!(\"{}\", crate::c::Z); }".into(),
        ),
        (m("c"), "pub const Z: u8 = super::a::W;".into()),
        (m("t"), "use crate::a::Y;".into()),
    ];
    let edges = graph(&planted);
    assert!(!edges.contains_key(&m("t")), "test-only files are left out");
    let found = circles(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0], vec![m("a"), m("b"), m("c"), m("a")]);
    // A parent's re-export of its child is a facade, not a circle.
    let facade = vec![
        (m(""), "pub mod p;".to_owned()),
        (m("p"), "mod q; pub use q::Q; pub struct P;".into()),
        (m("p/q"), "use super::P; pub struct Q(P);".into()),
    ];
    assert!(circles(&graph(&facade)).is_empty());
    // But a parent that uses its child's item in code depends on it.
    let used = vec![
        (m(""), "pub mod p;".to_owned()),
        (
            m("p"),
            "mod q; pub struct P; fn f() -> q::Q { todo!() }".into(),
        ),
        (m("p/q"), "use super::P; pub struct Q(P);".into()),
    ];
    assert_eq!(circles(&graph(&used)).len(), 1);
}

/// Longest file under `src/`, and the engine's hub.
const MAX_FILE_LINES: usize = 600;
const MAX_ENGINE_MOD_LINES: usize = 400;

#[test]
fn src_files_stay_small_enough_to_read() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut too_long = Vec::new();
    for (m, p) in module_files(&src) {
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        let limit = if m == ["engine"] {
            MAX_ENGINE_MOD_LINES
        } else {
            MAX_FILE_LINES
        };
        if lines > limit {
            too_long.push(format!("{} has {lines} lines (limit {limit})", p.display()));
        }
    }
    assert!(too_long.is_empty(), "{}", too_long.join("\n"));
}
