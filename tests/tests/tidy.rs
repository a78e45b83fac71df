//! Tidy checks that run with the tests: every Rust file says what it is for, ARCHITECTURE.md names
//! every crate, pure modules stay pure, no crate's modules import each other in a cycle, no test is
//! skipped, and the README lists every config key.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

const CRATES: &[&str] = &[
    "proto",
    "daemon",
    "config",
    "hadoop-ipc",
    "resourcemanager",
    "nodemanager",
    "executor",
    "yarn-client",
    "driver",
    "cli",
    "tests",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for krate in CRATES {
        for sub in ["src", "tests", "benches"] {
            rust_files(&repo().join(krate).join(sub), &mut files);
        }
        let build = repo().join(krate).join("build.rs");
        if build.exists() {
            files.push(build);
        }
    }
    files
}

#[test]
fn every_rust_file_opens_with_a_doc_comment() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|f| !fs::read_to_string(f).unwrap_or_default().trim_start().starts_with("//!"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! header:\n{}", missing.join("\n"));
}

#[test]
fn architecture_names_every_crate() {
    let text = fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    for krate in CRATES.iter().chain(&["deploy"]) {
        assert!(text.contains(&format!("### `{krate}/`")), "ARCHITECTURE.md has no section for {krate}/");
    }
}

#[test]
fn no_test_is_skipped() {
    let needle = ["#[", "ignore"].concat();
    let skipped: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|f| fs::read_to_string(f).unwrap_or_default().contains(&needle))
        .map(|f| f.display().to_string())
        .collect();
    assert!(skipped.is_empty(), "skipped tests in:\n{}", skipped.join("\n"));
}

#[test]
fn the_readme_lists_every_configuration_key() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let missing: Vec<&str> =
        weft_config::KEYS.iter().map(|k| k.name).filter(|name| !readme.contains(&format!("`{name}`"))).collect();
    assert!(missing.is_empty(), "README.md does not document: {missing:?}");
}

// Purity: one table, one checker.
//
// The checker parses each file with `syn` and walks its items, skipping test code: any item, impl or
// trait item, field, variant, match arm, `let` or macro statement carrying `#[cfg(test)]` (or
// `cfg(all(test, …))`) or `#[test]`, and every file the crate compiles only for tests (a module
// declared under `#[cfg(test)]`, found by walking the crate's module tree from its roots). What it
// reads in the rest is every path the code names — in `use` trees, types, expressions, patterns,
// attributes and macro invocations and their bodies — with the file's `use` aliases expanded
// (`use std::thread; thread::sleep(…)` names `std::thread::sleep`). A banned entry matches a path
// holding its segments in a row: `std::fs` matches `std::fs::read`, `Instant::now` matches
// `std::time::Instant::now`.

/// Async runtimes, RPC, HTTP and sockets.
const NET: &[&str] = &["tokio", "tonic", "axum", "hyper", "reqwest", "tower", "std::net"];
/// Files, processes, threads, the environment, the standard streams and the kernel's interfaces.
const OS: &[&str] = &[
    "std::fs",
    "std::process",
    "std::thread",
    "std::env",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "println",
    "eprintln",
    "procfs",
    "nix",
    "libc",
    "cgroups_rs",
    "tempfile",
];
/// Reading a clock: pure code is handed `now`.
const CLOCK: &[&str] = &["SystemTime::now", "Instant::now"];
/// Clock types at all: the daemons' cores count time in the milliseconds they are handed.
const TIME: &[&str] = &["SystemTime", "Instant"];
/// The wire's types: the daemons' cores speak their own, so a second protocol adapter (YARN's Hadoop
/// IPC) can sit beside gRPC.
const WIRE: &[&str] = &["weft_proto::pb", "weft_proto::spark_pb", "prost"];
/// YARN's vocabulary: its ids, its protocol's types, its configuration.
const YARN: &[&str] = &[
    "weft_proto::pb",
    "weft_proto::ids",
    "ApplicationId",
    "ApplicationAttemptId",
    "ContainerId",
    "NodeId",
    "weft_config",
];
/// Starting a process.
const SPAWN: &[&str] = &["process::Command", "unistd::fork", "libc::fork", "posix_spawn"];
/// cgroups, and the crate that manages them.
const CGROUPS: &[&str] = &["cgroups_rs", "weft_nodemanager"];

/// Every pure module, and the crates' invariants that come down to what code may name (ARCHITECTURE.md):
/// a path from the workspace root (a file, or a directory and everything in it) and what its non-test
/// code must not name.
const RULES: &[(&str, &[&[&str]])] = &[
    // The ResourceManager: `core/` and `scheduler/` are plain data; it never spawns a process.
    ("resourcemanager/src/core", &[NET, OS, CLOCK, TIME, WIRE]),
    ("resourcemanager/src/scheduler", &[NET, OS, CLOCK, TIME, WIRE]),
    ("resourcemanager/src", &[SPAWN]),
    ("resourcemanager/src/hadoop/records.rs", &[NET, OS, CLOCK]),
    ("resourcemanager/src/hadoop/asks.rs", &[NET, OS, CLOCK, TIME]),
    ("resourcemanager/src/hadoop/am_launch.rs", &[NET, OS, CLOCK, TIME]),
    ("resourcemanager/src/staging/accounts.rs", &[NET, OS, CLOCK, TIME, WIRE]),
    ("resourcemanager/src/recovery/records.rs", &[NET, OS, CLOCK, TIME, WIRE]),
    // What the daemons share: Hadoop's ACLs and YARN's decision over them.
    ("daemon/src/acl.rs", &[NET, OS, CLOCK, TIME, WIRE]),
    // The NodeManager's core: the container state machine, the node, the monitor's rule, samples,
    // sizes and reports, and the cgroup file formats.
    ("nodemanager/src/container", &[NET, OS, CLOCK, TIME, WIRE]),
    ("nodemanager/src/node", &[NET, OS, CLOCK, TIME, WIRE]),
    ("nodemanager/src/monitor", &[NET, OS, CLOCK, TIME, WIRE]),
    ("nodemanager/src/cgroups/files.rs", &[NET, OS, CLOCK, TIME, WIRE]),
    ("nodemanager/src/authority.rs", &[NET, OS, CLOCK]),
    ("nodemanager/src/recovery/record.rs", &[NET, OS, CLOCK, TIME, WIRE]),
    ("nodemanager/src/recovery/decide.rs", &[NET, OS, CLOCK, TIME, WIRE]),
    // Hadoop IPC: everything but the tokio server is bytes in, bytes or decisions out.
    ("hadoop-ipc/src/frame.rs", &[NET, OS, CLOCK]),
    ("hadoop-ipc/src/connection.rs", &[NET, OS, CLOCK]),
    ("hadoop-ipc/src/sasl", &[NET, OS, CLOCK]),
    ("hadoop-ipc/src/token.rs", &[NET, OS, CLOCK]),
    ("hadoop-ipc/src/credentials", &[NET, OS, CLOCK]),
    ("hadoop-ipc/src/ids.rs", &[NET, OS, CLOCK]),
    ("hadoop-ipc/src/container_token.rs", &[NET, OS, CLOCK]),
    // Configuration: only `Settings::load` (settings.rs) touches the filesystem.
    ("config/src/keys.rs", &[NET, OS, CLOCK]),
    ("config/src/size.rs", &[NET, OS, CLOCK]),
    ("config/src/views.rs", &[NET, OS, CLOCK]),
    ("config/src/error.rs", &[NET, OS, CLOCK]),
    ("config/src/settings.rs", &[NET, CLOCK]),
    // The executor: knows nothing of YARN; its plain-data modules. `memory.rs` is the policy behind
    // a mutex, and its blocking wait for memory reads the monotonic clock (`Instant::now`), so clocks
    // are allowed there.
    ("executor/src", &[YARN]),
    ("executor/src/batch.rs", &[NET, OS, CLOCK]),
    ("executor/src/plan.rs", &[NET, OS, CLOCK]),
    ("executor/src/error.rs", &[NET, OS, CLOCK]),
    ("executor/src/frame.rs", &[NET, OS, CLOCK]),
    ("executor/src/size.rs", &[NET, OS, CLOCK]),
    ("executor/src/encoding.rs", &[NET, OS, CLOCK]),
    ("executor/src/external/order.rs", &[NET, OS, CLOCK, TIME, WIRE]),
    ("executor/src/memory.rs", &[NET, OS]),
    // The YARN client: the cluster's client side, knows nothing of cgroups; asks and grants are data.
    ("yarn-client/src", &[CGROUPS]),
    ("yarn-client/src/grant.rs", &[NET, OS, CLOCK]),
    // The Spark library: knows nothing of cgroups; the Spark schedulers, the lineage, the AM's book,
    // the words for losses and progress, Spark's configuration.
    ("driver/src", &[CGROUPS]),
    ("driver/src/dag.rs", &[NET, OS, CLOCK]),
    ("driver/src/dag", &[NET, OS, CLOCK]),
    ("driver/src/tasks.rs", &[NET, OS, CLOCK]),
    ("driver/src/tasks", &[NET, OS, CLOCK]),
    ("driver/src/lineage.rs", &[NET, OS, CLOCK]),
    ("driver/src/events.rs", &[NET, OS, CLOCK]),
    ("driver/src/status.rs", &[NET, OS, CLOCK]),
    ("driver/src/loss.rs", &[NET, OS, CLOCK]),
    ("driver/src/progress.rs", &[NET, OS, CLOCK]),
    ("driver/src/executor_book.rs", &[NET, OS, CLOCK]),
    ("driver/src/partitioner.rs", &[NET, OS, CLOCK]),
    ("driver/src/conf.rs", &[NET, OS, CLOCK]),
    ("driver/src/conf", &[NET, OS, CLOCK]),
    // The CLI: its formats, plans and reports.
    ("cli/src", &[CGROUPS]),
    ("cli/src/format", &[NET, OS, CLOCK]),
    ("cli/src/query.rs", &[NET, OS, CLOCK]),
    ("cli/src/convert.rs", &[NET, OS, CLOCK]),
    ("cli/src/cli/argv.rs", &[NET, OS, CLOCK]),
    ("cli/src/shell/plan.rs", &[NET, OS, CLOCK]),
    ("cli/src/shell/book.rs", &[NET, OS, CLOCK]),
    ("cli/src/shell/watch.rs", &[NET, OS, CLOCK]),
    ("cli/src/submit/plan.rs", &[NET, OS, CLOCK]),
    ("cli/src/submit/properties.rs", &[NET, OS, CLOCK]),
    ("cli/src/submit/context.rs", &[NET, OS, CLOCK]),
    ("cli/src/submit/report.rs", &[NET, OS, CLOCK]),
];

#[test]
fn purity_rules_hold() {
    let root = repo();
    let mut trees: BTreeMap<PathBuf, BTreeMap<PathBuf, bool>> = BTreeMap::new();
    let mut offences = Vec::new();
    for (entry, groups) in RULES {
        let banned: Vec<&str> = groups.iter().flat_map(|g| g.iter().copied()).collect();
        let path = root.join(entry);
        let krate = root.join(Path::new(entry).components().next().expect("a path"));
        let tree = trees.entry(krate.clone()).or_insert_with(|| module_files(&krate.join("src")));
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else {
            assert!(path.is_file(), "{entry} is in the table but does not exist");
            files.push(path.clone());
        }
        files.sort();
        let mut checked = 0;
        for file in files {
            // Files outside the module tree are not compiled; test-only files may do anything.
            if tree.get(&file) != Some(&false) {
                continue;
            }
            checked += 1;
            let source = fs::read_to_string(&file).unwrap();
            let shown = file.strip_prefix(&root).unwrap().display().to_string();
            for offence in offences_in(&source, &banned).unwrap_or_else(|e| panic!("{shown}: {e}")) {
                offences.push(format!("{shown}:{offence}"));
            }
        }
        assert!(checked > 0, "{entry} holds no code compiled outside tests: is the table out of date?");
    }
    assert!(offences.is_empty(), "code that must stay pure names what it may not:\n{}", offences.join("\n"));
}

/// What `source`'s non-test code names from `banned`, one line per use: ``LINE: `path` (banned here: `entry`)``.
fn offences_in(source: &str, banned: &[&str]) -> syn::Result<Vec<String>> {
    let file = syn::parse_file(source)?;
    let mut aliases = Aliases::default();
    aliases.visit_file(&file);
    let mut names = Names { aliases: &aliases.0, found: Vec::new() };
    names.visit_file(&file);
    let banned: Vec<Vec<&str>> = banned.iter().map(|b| b.split("::").collect()).collect();
    let mut offences = BTreeSet::new();
    for (line, path) in names.found {
        for entry in &banned {
            if path.windows(entry.len()).any(|w| w.iter().zip(entry).all(|(a, b)| a == b)) {
                offences.insert((line, format!("{line}: `{}` (banned here: `{}`)", path.join("::"), entry.join("::"))));
            }
        }
    }
    Ok(offences.into_iter().map(|(_, text)| text).collect())
}

/// Whether attributes make an item test-only: `#[test]` (or `#[tokio::test]`, …), `#[cfg(test)]`,
/// `#[cfg(all(…, test, …))]`.
fn test_only(attrs: &[syn::Attribute]) -> bool {
    fn implies_test(meta: &syn::Meta) -> bool {
        match meta {
            syn::Meta::Path(path) => path.is_ident("test"),
            syn::Meta::List(list) if list.path.is_ident("all") => list
                .parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                .is_ok_and(|all| all.iter().any(implies_test)),
            _ => false,
        }
    }
    attrs.iter().any(|attr| {
        attr.path().segments.last().is_some_and(|s| s.ident == "test")
            || (attr.path().is_ident("cfg") && attr.parse_args::<syn::Meta>().is_ok_and(|m| implies_test(&m)))
    })
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Const(i) => &i.attrs,
        syn::Item::Enum(i) => &i.attrs,
        syn::Item::ExternCrate(i) => &i.attrs,
        syn::Item::Fn(i) => &i.attrs,
        syn::Item::ForeignMod(i) => &i.attrs,
        syn::Item::Impl(i) => &i.attrs,
        syn::Item::Macro(i) => &i.attrs,
        syn::Item::Mod(i) => &i.attrs,
        syn::Item::Static(i) => &i.attrs,
        syn::Item::Struct(i) => &i.attrs,
        syn::Item::Trait(i) => &i.attrs,
        syn::Item::TraitAlias(i) => &i.attrs,
        syn::Item::Type(i) => &i.attrs,
        syn::Item::Union(i) => &i.attrs,
        syn::Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    match item {
        syn::ImplItem::Const(i) => &i.attrs,
        syn::ImplItem::Fn(i) => &i.attrs,
        syn::ImplItem::Type(i) => &i.attrs,
        syn::ImplItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

fn trait_item_attrs(item: &syn::TraitItem) -> &[syn::Attribute] {
    match item {
        syn::TraitItem::Const(i) => &i.attrs,
        syn::TraitItem::Fn(i) => &i.attrs,
        syn::TraitItem::Type(i) => &i.attrs,
        syn::TraitItem::Macro(i) => &i.attrs,
        _ => &[],
    }
}

/// Skips test code: every visitor below walks only what is compiled outside tests.
macro_rules! skip_test_code {
    () => {
        fn visit_item(&mut self, item: &'ast syn::Item) {
            if !test_only(item_attrs(item)) {
                visit::visit_item(self, item);
            }
        }
        fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
            if !test_only(impl_item_attrs(item)) {
                visit::visit_impl_item(self, item);
            }
        }
        fn visit_trait_item(&mut self, item: &'ast syn::TraitItem) {
            if !test_only(trait_item_attrs(item)) {
                visit::visit_trait_item(self, item);
            }
        }
        fn visit_field(&mut self, field: &'ast syn::Field) {
            if !test_only(&field.attrs) {
                visit::visit_field(self, field);
            }
        }
        fn visit_variant(&mut self, variant: &'ast syn::Variant) {
            if !test_only(&variant.attrs) {
                visit::visit_variant(self, variant);
            }
        }
        fn visit_arm(&mut self, arm: &'ast syn::Arm) {
            if !test_only(&arm.attrs) {
                visit::visit_arm(self, arm);
            }
        }
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if !test_only(&local.attrs) {
                visit::visit_local(self, local);
            }
        }
        fn visit_stmt_macro(&mut self, stmt: &'ast syn::StmtMacro) {
            if !test_only(&stmt.attrs) {
                visit::visit_stmt_macro(self, stmt);
            }
        }
    };
}

/// The names a file's non-test `use` declarations bring in, and the paths they stand for.
#[derive(Default)]
struct Aliases(BTreeMap<String, Vec<String>>);

impl<'ast> Visit<'ast> for Aliases {
    skip_test_code!();

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        for (alias, path, _) in use_leaves(&item.tree) {
            if let Some(alias) = alias {
                self.0.insert(alias, path);
            }
        }
    }
}

/// Every path a file's non-test code names, with its line, aliases expanded.
struct Names<'a> {
    aliases: &'a BTreeMap<String, Vec<String>>,
    found: Vec<(usize, Vec<String>)>,
}

impl Names<'_> {
    fn name(&mut self, line: usize, mut path: Vec<String>) {
        if let Some(full) = path.first().and_then(|first| self.aliases.get(first)) {
            path.splice(..1, full.iter().cloned());
        }
        self.found.push((line, path));
    }

    /// Paths inside a macro's tokens (`a::b::c`), which `syn` leaves unparsed.
    fn tokens(&mut self, tokens: TokenStream) {
        let mut run: Vec<(usize, String)> = Vec::new();
        let mut colons = 0;
        for tree in tokens {
            match tree {
                TokenTree::Ident(ident) if run.is_empty() || colons == 2 => {
                    run.push((ident.span().start().line, ident.to_string()));
                    colons = 0;
                    continue;
                }
                TokenTree::Punct(p) if p.as_char() == ':' && colons < 2 && (colons == 1 || !run.is_empty()) => {
                    colons += 1;
                    continue;
                }
                TokenTree::Group(group) => {
                    self.flush(&mut run);
                    self.tokens(group.stream());
                }
                TokenTree::Ident(ident) => {
                    self.flush(&mut run);
                    run.push((ident.span().start().line, ident.to_string()));
                }
                _ => self.flush(&mut run),
            }
            colons = 0;
        }
        self.flush(&mut run);
    }

    fn flush(&mut self, run: &mut Vec<(usize, String)>) {
        if let Some(&(line, _)) = run.first() {
            let path = run.drain(..).map(|(_, s)| s).collect();
            self.name(line, path);
        }
    }
}

impl<'ast> Visit<'ast> for Names<'_> {
    skip_test_code!();

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(first) = path.segments.first() {
            let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
            self.name(first.ident.span().start().line, segments);
        }
        visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        for (_, path, line) in use_leaves(&item.tree) {
            self.found.push((line, path));
        }
    }

    fn visit_item_extern_crate(&mut self, item: &'ast syn::ItemExternCrate) {
        self.found.push((item.ident.span().start().line, vec![item.ident.to_string()]));
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        self.tokens(mac.tokens.clone());
    }
}

/// The leaves of a `use` tree: the name each brings in (none for a glob), its full path, its line.
fn use_leaves(tree: &syn::UseTree) -> Vec<(Option<String>, Vec<String>, usize)> {
    fn walk(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(Option<String>, Vec<String>, usize)>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                walk(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) if n.ident == "self" => {
                out.push((prefix.last().cloned(), prefix.clone(), n.ident.span().start().line));
            }
            syn::UseTree::Name(n) => {
                let path = prefix.iter().cloned().chain([n.ident.to_string()]).collect();
                out.push((Some(n.ident.to_string()), path, n.ident.span().start().line));
            }
            syn::UseTree::Rename(r) => {
                let path = prefix.iter().cloned().chain([r.ident.to_string()]).collect();
                out.push((Some(r.rename.to_string()), path, r.ident.span().start().line));
            }
            syn::UseTree::Glob(g) => {
                out.push((None, prefix.clone(), g.star_token.span.start().line));
            }
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    walk(tree, prefix, out);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

/// The files of a crate's module tree, from `src/lib.rs`, `src/main.rs` and `src/bin/*.rs`, each with
/// whether it is compiled only for tests (declared under `#[cfg(test)]`, or inside such a module).
fn module_files(src: &Path) -> BTreeMap<PathBuf, bool> {
    let mut roots: Vec<PathBuf> = ["lib.rs", "main.rs"].iter().map(|f| src.join(f)).filter(|f| f.is_file()).collect();
    if let Ok(bins) = fs::read_dir(src.join("bin")) {
        roots.extend(bins.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "rs")));
    }
    let mut files = BTreeMap::new();
    for root in roots {
        module_file(&root, true, false, &mut files);
    }
    files
}

/// Walks one file of the module tree; `owns_dir`: its child modules live beside it (a crate root or
/// a `mod.rs`), not in a directory named after it.
fn module_file(file: &Path, owns_dir: bool, test: bool, files: &mut BTreeMap<PathBuf, bool>) {
    match files.get(file) {
        Some(false) => return,
        Some(true) if test => return,
        _ => {}
    }
    files.insert(file.to_owned(), test);
    let source = fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let parsed = syn::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let here = file.parent().expect("a file has a directory");
    let dir = if owns_dir { here.to_owned() } else { here.join(file.file_stem().expect("a file name")) };
    module_items(&parsed.items, &dir, here, test, files);
}

fn module_items(items: &[syn::Item], dir: &Path, here: &Path, test: bool, files: &mut BTreeMap<PathBuf, bool>) {
    for item in items {
        let syn::Item::Mod(module) = item else { continue };
        let test = test || test_only(&module.attrs);
        let name = module.ident.to_string();
        let path_attr = module.attrs.iter().find(|a| a.path().is_ident("path")).and_then(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        match (&module.content, path_attr) {
            (Some((_, inner)), _) => {
                let inner_dir = dir.join(&name);
                module_items(inner, &inner_dir, &inner_dir, test, files);
            }
            (None, Some(path)) => {
                let file = here.join(path);
                let owns_dir = file.file_name().is_some_and(|n| n == "mod.rs");
                module_file(&file, owns_dir, test, files);
            }
            (None, None) => {
                let flat = dir.join(format!("{name}.rs"));
                if flat.is_file() {
                    module_file(&flat, false, test, files);
                } else {
                    module_file(&dir.join(&name).join("mod.rs"), true, test, files);
                }
            }
        }
    }
}

#[test]
fn a_planted_call_in_dag_rs_is_found_outside_test_code_and_nowhere_else() {
    let dag = fs::read_to_string(repo().join("driver/src/dag.rs")).unwrap();
    let banned: Vec<&str> = [NET, OS, CLOCK].concat();
    assert_eq!(offences_in(&dag, &banned).unwrap(), Vec::<String>::new(), "dag.rs as it is");

    // After the module's `#[cfg(test)] mod tests;` (line 11, where the old check stopped reading), and
    // inside a test module, an impl's test-only method and a test function.
    let planted = format!(
        "{dag}\nfn planted() {{\n    let _ = std::fs::read(\"x\");\n}}\n\
         #[cfg(test)]\nmod planted_tests {{\n    fn g() {{\n        let _ = std::fs::read(\"y\");\n    }}\n}}\n\
         struct S;\nimpl S {{\n    #[cfg(test)]\n    fn h() {{\n        std::thread::sleep(std::time::Duration::ZERO);\n    }}\n}}\n\
         #[test]\nfn t() {{\n    let _ = std::time::Instant::now();\n}}\n"
    );
    let line = dag.lines().count() + 3;
    let expected = [format!("{line}: `std::fs::read` (banned here: `std::fs`)")];
    assert_eq!(offences_in(&planted, &banned).unwrap(), expected);
}

#[test]
fn aliases_macros_attributes_and_cfg_forms_are_read() {
    let source = r#"
use std::thread;
use std::time::Instant as Clock;
use std::{fs::{self}, io};

#[cfg(not(test))]
fn a() {
    thread::sleep(std::time::Duration::ZERO);
}
fn b() -> u128 {
    Clock::now().elapsed().as_nanos()
}
fn c() {
    println!("{:?}", ::std::net::TcpStream::connect("x"));
}
#[tokio::main]
async fn d() {}
#[cfg(all(unix, test))]
fn e() {
    let _ = std::process::id();
}
#[cfg(any(unix, test))]
fn f() {
    let _ = std::process::id();
}
fn g() {
    #[cfg(test)]
    let _x = std::env::args();
    match 1 {
        #[cfg(test)]
        0 => std::process::abort(),
        _ => {}
    }
}
"#;
    let found = offences_in(source, &[NET, OS, CLOCK].concat()).unwrap();
    let expected = [
        "2: `std::thread` (banned here: `std::thread`)",
        "4: `std::fs` (banned here: `std::fs`)",
        "8: `std::thread::sleep` (banned here: `std::thread`)",
        "11: `std::time::Instant::now` (banned here: `Instant::now`)",
        "14: `println` (banned here: `println`)",
        "14: `std::net::TcpStream::connect` (banned here: `std::net`)",
        "16: `tokio::main` (banned here: `tokio`)",
        "24: `std::process::id` (banned here: `std::process`)",
    ];
    assert_eq!(found, expected);
}

#[test]
fn files_compiled_only_for_tests_are_found_through_the_module_tree() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let write = |path: &str, text: &str| {
        let path = src.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod core;\nmod flat;\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod support {\n    mod deep;\n}\n");
    write("core/mod.rs", "mod inner;\n#[cfg(all(test, unix))]\nmod tests;\n");
    write("core/inner.rs", "");
    write("core/tests.rs", "");
    write("flat.rs", "#[cfg(test)]\nmod tests;\n#[path = \"other_name.rs\"]\nmod renamed;\n");
    write("flat/tests.rs", "mod below;\n");
    write("flat/tests/below.rs", "");
    write("other_name.rs", "");
    write("tests.rs", "");
    write("support/deep.rs", "");
    write("orphan.rs", "");
    let files: Vec<(String, bool)> = module_files(&src)
        .into_iter()
        .map(|(path, test)| (path.strip_prefix(&src).unwrap().display().to_string(), test))
        .collect();
    let expected = [
        ("core/inner.rs", false),
        ("core/mod.rs", false),
        ("core/tests.rs", true),
        ("flat/tests/below.rs", true),
        ("flat/tests.rs", true),
        ("flat.rs", false),
        ("lib.rs", false),
        ("other_name.rs", false),
        ("support/deep.rs", true),
        ("tests.rs", true),
    ];
    assert_eq!(files, expected.map(|(path, test)| (path.to_string(), test)));
}

/// Crates whose top-level modules may not import each other in a cycle: what a module imports, it
/// does not reach back into (the pure DAG does not import the runtime that drives it).
const ACYCLIC: &[&str] = &["driver/src", "executor/src", "yarn-client/src", "cli/src"];

/// Which top-level modules each top-level module of the crate at `src` names in non-test code:
/// `crate::m…` anywhere, `super::m…` in a file directly under `src`, `use` declarations included.
fn module_imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = module_files(src);
    let top_of = |file: &Path| -> Option<(String, bool)> {
        let rel = file.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
        Some((first.trim_end_matches(".rs").to_owned(), rel.components().count() == 1))
    };
    let modules: BTreeSet<String> = files.keys().filter_map(|f| top_of(f)).map(|(m, _)| m).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, test) in &files {
        let Some((module, at_root)) = top_of(file) else { continue };
        if *test || module == "lib" || module == "main" {
            continue;
        }
        let source = fs::read_to_string(file).unwrap();
        let parsed = syn::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut aliases = Aliases::default();
        aliases.visit_file(&parsed);
        let mut names = Names { aliases: &aliases.0, found: Vec::new() };
        names.visit_file(&parsed);
        let paths = names.found.into_iter().map(|(_, path)| path).chain(aliases.0.values().cloned());
        for path in paths {
            let target = match path.first().map(String::as_str) {
                Some("crate") => path.get(1),
                Some("super") if at_root => path.get(1),
                _ => None,
            };
            if let Some(target) = target.filter(|t| **t != module && modules.contains(*t)) {
                edges.entry(module.clone()).or_default().insert(target.clone());
            }
        }
    }
    edges
}

/// A cycle in `edges` as `a → b → a`, if there is one.
fn a_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle.join(" → "));
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycle_among_a_crates_modules() {
    for src in ACYCLIC {
        let edges = module_imports(&repo().join(src));
        assert!(edges.len() > 3, "{src}: too few modules found: {edges:?}");
        if let Some(cycle) = a_cycle(&edges) {
            panic!("{src}: the modules import each other in a cycle: {cycle}");
        }
    }
}

#[test]
fn a_planted_cycle_is_found() {
    let mut edges = module_imports(&repo().join("driver/src"));
    assert!(edges["backend"].contains("dag"), "the runtime drives the DAG: {edges:?}");
    edges.entry("dag".into()).or_default().insert("context".into());
    edges.entry("context".into()).or_default().insert("backend".into());
    let cycle = a_cycle(&edges).expect("dag → context → backend → dag");
    assert!(cycle.contains("dag") && cycle.contains("backend"), "{cycle}");
}
