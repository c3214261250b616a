//! The places that repeat `exercises/exercises.toml`, checked against it
//! before `lab check-exercises` compiles anything.
//!
//! The catalogue is the one list of exercises. Adding an exercise touches
//! four things: its file in `exercises/src/`, its answer key in
//! `solutions/src/`, its graded suite in `tests/graded/`, and its entry in
//! the catalogue. Three more places repeat the catalogue by hand: the module
//! trees of both crates (`lib.rs` and each folder's `mod.rs`, which declare
//! every exercise and include its graded suite by `#[path]`), the README's
//! table of points and `notebooks/README.md`'s minutes per lesson
//! (`tables.rs`). The trees are checked rather than generated, so they
//! stay ordinary Rust that `cargo test -p exercises` and an editor read
//! without a build step; this check says, one line per problem, which file
//! disagrees and what to change.
//!
//! The trees hold no helper modules: every `.rs` file in them is an
//! exercise, a graded suite, a `lib.rs` or a folder's `mod.rs`, and any other
//! is reported here (and by the later file check in [`super::check`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use super::catalog::{Catalog, Exercise};
use super::compile::Flavor;
use super::tables;

/// The catalogue and the files that repeat it disagree.
#[derive(Debug, thiserror::Error)]
#[error(
    "exercises/exercises.toml and the files that repeat it disagree, so nothing was compiled; fix these ({} to fix) and run the check again:\n{}",
    .problems.len(),
    bulleted(.problems)
)]
pub struct DeclarationError {
    /// Each problem, naming the file and what to change.
    pub problems: Vec<String>,
}

/// Checks every place that repeats the catalogue, and fails once with all
/// the problems found.
pub fn check(catalog: &Catalog) -> Result<(), DeclarationError> {
    let problems = problems(catalog);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DeclarationError { problems })
    }
}

/// Every disagreement between the catalogue and the files that repeat it,
/// one sentence each, in a stable order.
pub fn problems(catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    for flavor in [Flavor::Exercises, Flavor::Solutions] {
        check_tree(catalog, flavor, &mut problems);
    }
    check_suites(catalog, &mut problems);
    problems.extend(tables::problems(catalog));
    problems
}

fn bulleted(problems: &[String]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    lines.join("\n")
}

/// A module a folder's module file must declare `pub`: a subfolder, or an
/// exercise's file.
struct Module<'a> {
    folder: bool,
    exercises: Vec<&'a Exercise>,
}

/// What one module file (`lib.rs` or a folder's `mod.rs`) must declare.
#[derive(Default)]
struct Wanted<'a> {
    modules: BTreeMap<String, Module<'a>>,
    /// `<stem>_graded`, and the exercise whose graded suite it includes.
    suites: BTreeMap<String, &'a Exercise>,
}

/// One `mod name;` line of a module file, with its `#[path]` if it has one.
#[derive(Debug, PartialEq, Eq)]
struct Declaration {
    name: String,
    public: bool,
    path: Option<String>,
}

/// The files of one crate (`exercises` or `solutions`) and its module tree.
fn check_tree(catalog: &Catalog, flavor: Flavor, problems: &mut Vec<String>) {
    let root = &catalog.root;
    let src = root.join(flavor.name()).join("src");
    // Keyed by folder, relative to `src/`; "" is the crate root, `lib.rs`.
    let mut folders: BTreeMap<String, Wanted> = BTreeMap::new();
    for exercise in &catalog.exercises {
        let file = flavor.file_of(exercise, root);
        if !file.is_file() {
            problems.push(format!(
                "{} does not exist, but exercises/exercises.toml gives {} the file {}: add it, or correct the exercise's `file`",
                shown(root, &file),
                exercise.id,
                exercise.file
            ));
        }
        let mut segments: Vec<&str> = exercise.file.trim_end_matches(".rs").split('/').collect();
        let leaf = segments.pop().unwrap_or_default();
        let mut folder = String::new();
        for segment in segments {
            let wanted = folders.entry(folder.clone()).or_default();
            let module = wanted
                .modules
                .entry(segment.to_owned())
                .or_insert_with(|| Module {
                    folder: true,
                    exercises: Vec::new(),
                });
            module.exercises.push(exercise);
            folder = format!("{folder}{segment}/");
        }
        let wanted = folders.entry(folder).or_default();
        wanted.modules.insert(
            leaf.to_owned(),
            Module {
                folder: false,
                exercises: vec![exercise],
            },
        );
        wanted.suites.insert(format!("{leaf}_graded"), exercise);
    }
    for (folder, wanted) in &folders {
        let module_file = match folder.as_str() {
            "" => src.join("lib.rs"),
            folder => src.join(folder).join("mod.rs"),
        };
        check_module_file(root, &module_file, folder, wanted, problems);
    }
    let known: BTreeSet<PathBuf> = catalog
        .exercises
        .iter()
        .map(|exercise| flavor.file_of(exercise, root))
        .collect();
    for file in super::check::rust_files(&src) {
        let module_file = file == src.join("lib.rs")
            || (file.ends_with("mod.rs") && file.parent() != Some(src.as_path()));
        if !module_file && !known.contains(&file) {
            let relative = file.strip_prefix(&src).unwrap_or(&file).display();
            problems.push(format!(
                "{} belongs to no exercise in exercises/exercises.toml: add one with file {relative}, or remove the file",
                shown(root, &file)
            ));
        }
    }
}

/// One module file's declarations against what the catalogue wants of it.
fn check_module_file(
    root: &Path,
    module_file: &Path,
    folder: &str,
    wanted: &Wanted,
    problems: &mut Vec<String>,
) {
    let shown_file = shown(root, module_file);
    let Ok(text) = std::fs::read_to_string(module_file) else {
        let names: Vec<String> = wanted
            .modules
            .keys()
            .map(|name| format!("`pub mod {name};`"))
            .collect();
        problems.push(format!(
            "{shown_file} does not exist: create it, declaring {} and including their graded suites",
            names.join(", ")
        ));
        return;
    };
    let dir = module_file.parent().unwrap_or(root);
    // From the module file's folder back up to the repository's top.
    let up = "../".repeat(dir.strip_prefix(root).map_or(0, |d| d.components().count()));
    let mut seen = BTreeSet::new();
    for declaration in declarations(&text) {
        let name = &declaration.name;
        let written = format!(
            "`{}mod {name};`",
            if declaration.public { "pub " } else { "" }
        );
        if wanted.modules.contains_key(name) {
            seen.insert(name.clone());
            if let Some(path) = &declaration.path {
                problems.push(format!(
                    "{shown_file} declares {written} with `#[path = {path:?}]`, but an exercise's module is read from its own place: remove the `#[path]`"
                ));
            } else if !declaration.public {
                problems.push(format!(
                    "{shown_file} declares {written}: make it `pub mod {name};`, as the grader's crate does"
                ));
            }
        } else if let Some(exercise) = wanted.suites.get(name) {
            seen.insert(name.clone());
            let expected = format!("{up}tests/graded/{}", exercise.file);
            let included = declaration
                .path
                .as_ref()
                .map(|path| normalized(&dir.join(path)));
            if included != Some(normalized(&exercise.graded_file(root))) {
                let what = match &declaration.path {
                    Some(path) => format!("from {path:?}"),
                    None => "without a `#[path]`".to_owned(),
                };
                problems.push(format!(
                    "{shown_file} declares {written} {what}, but {}'s graded suite is {}: write `#[path = {expected:?}]` above it",
                    exercise.id,
                    shown(root, &exercise.graded_file(root))
                ));
            }
        } else if let Some(path) = &declaration.path {
            problems.push(format!(
                "{shown_file} includes {written} from {path:?}, but no exercise in exercises.toml has that graded suite: add one or remove the lines"
            ));
        } else {
            let missing = if dir.join(name).is_dir() {
                format!("a file under {folder}{name}/")
            } else {
                format!("file {folder}{name}.rs")
            };
            problems.push(format!(
                "{shown_file} declares {written} but exercises.toml has no exercise with {missing}: add one or remove the line"
            ));
        }
    }
    for (name, module) in &wanted.modules {
        if seen.contains(name) {
            continue;
        }
        let ids: Vec<&str> = module.exercises.iter().map(|e| e.id.as_str()).collect();
        let what = if module.folder {
            format!("the folder of {}", ids.join(", "))
        } else {
            format!("the module of {}", ids.join(", "))
        };
        problems.push(format!(
            "{shown_file} does not declare `pub mod {name};`, {what}: add the line"
        ));
    }
    for (name, exercise) in &wanted.suites {
        if !seen.contains(name) {
            problems.push(format!(
                "{shown_file} does not include the graded suite of {}: add `#[cfg(test)] #[path = \"{up}tests/graded/{}\"] mod {name};`",
                exercise.id, exercise.file
            ));
        }
    }
}

/// Every exercise has its graded suite where the grader reads it, and every
/// suite belongs to an exercise.
fn check_suites(catalog: &Catalog, problems: &mut Vec<String>) {
    let root = &catalog.root;
    for exercise in &catalog.exercises {
        let suite = exercise.graded_file(root);
        if !suite.is_file() {
            problems.push(format!(
                "{} does not exist, but the grader runs the tests of {} from there: add the suite, or correct the exercise's `file` in exercises.toml",
                shown(root, &suite),
                exercise.id
            ));
        }
    }
    let known: BTreeSet<PathBuf> = catalog
        .exercises
        .iter()
        .map(|exercise| exercise.graded_file(root))
        .collect();
    let graded = root.join("tests").join("graded");
    for file in super::check::rust_files(&graded) {
        if !known.contains(&file) {
            let relative = file.strip_prefix(&graded).unwrap_or(&file).display();
            problems.push(format!(
                "{} belongs to no exercise in exercises/exercises.toml (a suite is tests/graded/<the exercise's file>): add one with file {relative}, or remove the suite",
                shown(root, &file)
            ));
        }
    }
}

/// The `mod name;` lines of a module file. Reading lines rather than parsing
/// Rust is enough here: module files only declare (see the house style), one
/// item a line, as `rustfmt` writes them.
fn declarations(text: &str) -> Vec<Declaration> {
    let mut found = Vec::new();
    let mut path = None;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with("#!") {
            continue;
        }
        if let Some(attribute) = line.strip_prefix("#[") {
            if let Some(value) = attribute.strip_prefix("path")
                && value.trim_start().starts_with('=')
            {
                path = value.split('"').nth(1).map(str::to_owned);
            }
            continue;
        }
        if let Some(body) = line.strip_suffix(';') {
            let words: Vec<&str> = body.split_whitespace().collect();
            let declaration = match words.as_slice() {
                ["mod", name] => Some((false, name)),
                ["pub", "mod", name] => Some((true, name)),
                [visibility, "mod", name] if visibility.starts_with("pub(") => Some((false, name)),
                _ => None,
            };
            if let Some((public, name)) = declaration {
                found.push(Declaration {
                    name: (*name).to_owned(),
                    public,
                    path: path.take(),
                });
            }
        }
        path = None;
    }
    found
}

/// `path` with `.` and `..` worked out, without asking the file system.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `path` as a contributor reads it: relative to the repository's top.
fn shown(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests;
