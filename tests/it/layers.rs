//! The architecture as a test: no two source files use each other in a circle, and every use
//! between layer folders runs the way the table in `docs/design.md#layer-folders` says.
//!
//! A file *uses* another when it names an item of it, in a `use` line or as a qualified path
//! (`crate::files::issue::Issue`, `super::state::RunState`); a path through a `mod.rs` re-export
//! counts as using that `mod.rs`. Test modules inside a file count too: a circle only tests walk
//! is still a circle a reader has to untangle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path relative to `src/` (`["run", "state"]`; the crate root is empty).
type Module = Vec<String>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, by the module it defines.
fn modules(dir: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(dir).unwrap().with_extension("");
                let mut module: Module = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
                if matches!(module.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    module.pop();
                }
                out.insert(module, path);
            }
        }
    }
    out
}

/// The source with comments, string and character literals blanked, so only code is left.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if let Some(len) = raw_string_len(rest) {
            i += len;
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if let Some(len) = char_literal_len(&src[i..]) {
            i += len;
            out.push_str("' '");
        } else {
            let ch = src[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`, `br"…"`) starting here.
fn raw_string_len(b: &[u8]) -> Option<usize> {
    let start = if b.starts_with(b"br") {
        2
    } else if b.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
    if b.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let body = start + hashes + 1;
    b[body..].windows(close.len()).position(|w| w == close.as_slice()).map(|p| body + p + close.len())
}

/// The length of a character literal (`'a'`, `'\''`, `'\u{1F600}'`) starting here; `None` for
/// anything else (a lifetime).
fn char_literal_len(s: &str) -> Option<usize> {
    let mut chars = s.strip_prefix('\'')?.char_indices();
    let (_, first) = chars.next()?;
    if first == '\\' {
        let (escaped, c) = chars.next()?;
        let after = 1 + escaped + c.len_utf8();
        return s[after..].find('\'').map(|p| after + p + 1);
    }
    let end = 1 + first.len_utf8();
    s[end..].starts_with('\'').then_some(end + 1)
}

/// Every path a `use` tree names, flattened (`a::{b, c::d}` gives `a::b` and `a::c::d`).
fn use_paths(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or(tree).trim();
        out.push(format!("{prefix}{path}"));
        return;
    };
    let head = format!("{prefix}{}", &tree[..open]);
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut from) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                use_paths(&inner[from..i], &head, out);
                from = i + 1;
            }
            _ => {}
        }
    }
    if !inner[from..].trim().is_empty() {
        use_paths(&inner[from..], &head, out);
    }
}

/// The file a path names from `module`: the longest prefix of it that is a file.
fn resolve(files: &BTreeMap<Module, PathBuf>, module: &Module, path: &str) -> Option<Module> {
    let segs: Vec<&str> = path.split("::").map(str::trim).filter(|s| !s.is_empty()).collect();
    let (mut base, rest): (Module, &[&str]) = match segs.first().copied()? {
        "crate" => (vec![], &segs[1..]),
        "self" => (module.clone(), &segs[1..]),
        "super" => {
            let ups = segs.iter().take_while(|s| **s == "super").count();
            (module[..module.len().saturating_sub(ups)].to_vec(), &segs[ups..])
        }
        first => {
            let mut child = module.clone();
            child.push(first.to_owned());
            if !files.contains_key(&child) {
                return None;
            }
            (module.clone(), &segs[..])
        }
    };
    let mut best = files.contains_key(&base).then(|| base.clone());
    for s in rest {
        base.push((*s).to_owned());
        if !files.contains_key(&base) {
            break;
        }
        best = Some(base.clone());
    }
    best.filter(|b| b != module && !b.is_empty())
}

/// Which files each file uses.
fn uses(files: &BTreeMap<Module, PathBuf>) -> BTreeMap<Module, BTreeSet<Module>> {
    let qualified = regex::Regex::new(r"(?:^|[^\w:])((?:crate|super|self|[a-z_][a-z0-9_]*)(?:\s*::\s*[A-Za-z_][A-Za-z0-9_]*)+)").unwrap();
    let use_line = regex::Regex::new(r"\buse\s+([^;]+);").unwrap();
    let mut graph = BTreeMap::new();
    for (module, path) in files {
        let code = code_only(&std::fs::read_to_string(path).unwrap());
        let mut paths = Vec::new();
        for m in use_line.captures_iter(&code) {
            use_paths(&m[1].split_whitespace().collect::<Vec<_>>().join(" "), "", &mut paths);
        }
        paths.extend(qualified.captures_iter(&code).map(|m| m[1].to_owned()));
        let used = paths.iter().filter_map(|p| resolve(files, module, p)).collect();
        graph.insert(module.clone(), used);
    }
    graph
}

/// The strongly connected components with more than one file (Tarjan).
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<&'g Module, (usize, usize)>,
        stack: Vec<&'g Module>,
        on_stack: BTreeSet<&'g Module>,
        found: Vec<Vec<Module>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g Module) {
            let n = self.index.len();
            self.index.insert(v, (n, n));
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let Some((w, _)) = self.graph.get_key_value(w) else { continue };
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.index[v].1.min(self.index[w].1);
                    self.index.get_mut(v).unwrap().1 = low;
                } else if self.on_stack.contains(w) {
                    let low = self.index[v].1.min(self.index[w].0);
                    self.index.get_mut(v).unwrap().1 = low;
                }
            }
            if self.index[v].0 == self.index[v].1 {
                let mut component = vec![];
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.clone());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), stack: vec![], on_stack: BTreeSet::new(), found: vec![] };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn show(m: &Module) -> String {
    m.join("/")
}

#[test]
fn no_two_source_files_use_each_other_in_a_circle() {
    let files = modules(&src_dir());
    assert!(files.len() > 50, "the walk found the sources");
    let graph = uses(&files);
    let mut report = String::new();
    for component in circles(&graph) {
        let members: BTreeSet<&Module> = component.iter().collect();
        report.push_str(&format!("\ncircle of {} files:\n", component.len()));
        for a in &members {
            for b in graph[*a].iter().filter(|b| members.contains(b)) {
                report.push_str(&format!("  src/{} uses src/{}\n", show(a), show(b)));
            }
        }
    }
    assert!(report.is_empty(), "import circles between files (move the shared items down into a file both use):{report}");
}

/// The layer table of `docs/design.md`: each folder, top first, with the folders it may use.
fn layer_table() -> Vec<(String, BTreeSet<String>)> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/design.md")).unwrap();
    let section = doc.split("### Layer folders").nth(1).expect("docs/design.md has a `### Layer folders` section");
    let rows: Vec<(String, String)> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let folder = cells.first()?.strip_prefix('`')?.strip_suffix("/`")?;
            Some((folder.to_owned(), cells.last()?.to_string()))
        })
        .collect();
    let names: Vec<String> = rows.iter().map(|(f, _)| f.clone()).collect();
    rows.iter()
        .enumerate()
        .map(|(i, (folder, may_use))| {
            let allowed = if may_use == "everything below" {
                names[i + 1..].iter().cloned().collect()
            } else {
                may_use.split(',').filter_map(|s| s.split_whitespace().next()).map(str::to_owned).filter(|s| names.contains(s)).collect()
            };
            (folder.clone(), allowed)
        })
        .collect()
}

#[test]
fn layer_folders_use_only_what_the_design_table_allows() {
    let table = layer_table();
    assert!(table.len() >= 10, "docs/design.md's layer table was read: {table:?}");
    let files = modules(&src_dir());
    let folders: BTreeSet<&str> = files.keys().filter_map(|m| m.first().map(String::as_str)).filter(|f| !f.ends_with(".rs")).collect();
    for folder in &folders {
        if files.contains_key(&vec![(*folder).to_owned()]) {
            assert!(table.iter().any(|(f, _)| f == folder), "src/{folder}/ is not in docs/design.md's layer table");
        }
    }
    let mut wrong = String::new();
    for (a, used) in uses(&files) {
        for b in used {
            let (Some(fa), Some(fb)) = (a.first(), b.first()) else { continue };
            if fa == fb || a.len() < 2 && !files.contains_key(&vec![fa.clone()]) {
                continue;
            }
            let Some((_, allowed)) = table.iter().find(|(f, _)| f == fa) else { continue };
            if !allowed.contains(fb) {
                wrong.push_str(&format!("\n  src/{} uses src/{} ({fa}/ may use: {allowed:?})", show(&a), show(&b)));
            }
        }
    }
    assert!(wrong.is_empty(), "uses across layers that docs/design.md#layer-folders does not allow:{wrong}");
}

#[test]
fn the_reader_sees_a_circle_through_a_re_export_and_a_test_module() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |p: &str, s: &str| {
        std::fs::create_dir_all(src.join(p).parent().unwrap()).unwrap();
        std::fs::write(src.join(p), s).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\n");
    write("a/mod.rs", "mod inner;\npub use inner::Thing;\n");
    write("a/inner.rs", "pub struct Thing;\n// crate::b::Other in a comment is not a use\nconst S: &str = \"crate::b::Other\";\n");
    write("b.rs", "use crate::a::Thing;\npub struct Other;\n#[cfg(test)]\nmod tests {\n    fn f() -> char { 'x' }\n}\n");
    let files = modules(src);
    assert!(circles(&uses(&files)).is_empty(), "comments and strings are not uses");
    write("a/inner.rs", "pub struct Thing;\n#[cfg(test)]\nmod tests {\n    use crate::b::Other;\n}\n");
    let found = circles(&uses(&modules(src)));
    assert_eq!(found.len(), 1, "{found:?}");
    let mut members: Vec<String> = found[0].iter().map(show).collect();
    members.sort();
    assert_eq!(members, ["a", "a/inner", "b"]);
}
