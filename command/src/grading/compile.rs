//! Compiling exercises so that one broken exercise cannot sink the others.
//!
//! `lab grade` does not build the `exercises` crate itself: a syntax error in
//! one file would stop the whole crate from compiling. It writes a small
//! crate of its own under `target/lab-grade/`, whose `lib.rs` includes each
//! exercise file and its graded tests by path. When that crate fails to
//! compile, the errors are traced to the exercises whose files they are in;
//! those exercises are reported as compile errors and left out, and the rest
//! are compiled again. The crate borrows the workspace's `Cargo.lock`, so it
//! builds with exactly the dependency versions the lab was tested with.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::process::Command;

use super::catalog::{Catalog, Exercise};

/// Which tree of exercise files to compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `exercises/`: what students edit.
    Exercises,
    /// `solutions/`: the answer key.
    Solutions,
}

impl Flavor {
    /// The folder name, which is also the crate's name.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Exercises => "exercises",
            Flavor::Solutions => "solutions",
        }
    }

    /// The file of `exercise` in this tree.
    pub fn file_of(self, exercise: &Exercise, root: &Path) -> PathBuf {
        match self {
            Flavor::Exercises => exercise.exercise_file(root),
            Flavor::Solutions => exercise.solution_file(root),
        }
    }
}

/// The outcome of compiling a set of exercises.
#[derive(Debug, Default)]
pub struct Compiled {
    /// The test binary holding every exercise that compiled, if any did.
    pub executable: Option<PathBuf>,
    /// Exercises that did not compile, with the first error.
    pub errors: BTreeMap<String, String>,
    /// Time spent compiling.
    pub elapsed: Duration,
}

/// The build itself failed for a reason no exercise explains.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// Cargo could not be run or the crate could not be written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The manifests could not be read.
    #[error("cannot read {path}: {message}")]
    Manifest {
        /// The manifest.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Cargo failed outside any exercise (a dependency, the network).
    #[error("the build failed outside the exercises:\n{0}")]
    Build(String),
}

/// Compiles the exercises in `selected` from the `flavor` tree.
pub async fn compile(
    catalog: &Catalog,
    flavor: Flavor,
    selected: &[&Exercise],
) -> Result<Compiled, CompileError> {
    let started = Instant::now();
    let dir = catalog
        .root
        .join("target")
        .join("lab-grade")
        .join(flavor.name());
    write_manifest(
        &catalog.root,
        &dir,
        flavor,
        &format!("graded-{}", flavor.name()),
    )?;
    let mut included: Vec<&Exercise> = selected.to_vec();
    let mut compiled = Compiled::default();
    loop {
        if included.is_empty() {
            break;
        }
        write_lib(&catalog.root, &dir, flavor, &included)?;
        let build = cargo_build(&catalog.root, &dir).await?;
        if let Some(executable) = build.executable {
            compiled.executable = Some(executable);
            break;
        }
        // Blame each error on the exercise whose file it is in.
        let mut blamed = HashMap::new();
        for (file, message) in &build.errors {
            let owner = included.iter().find(|exercise| {
                file == &flavor.file_of(exercise, &catalog.root)
                    || file == &exercise.graded_file(&catalog.root)
            });
            if let Some(owner) = owner {
                blamed
                    .entry(owner.id.clone())
                    .or_insert_with(|| message.clone());
            }
        }
        if blamed.is_empty() {
            let first = build.errors.first().map(|(_, message)| message.clone());
            return Err(CompileError::Build(first.unwrap_or(build.stderr_tail)));
        }
        included.retain(|exercise| !blamed.contains_key(&exercise.id));
        compiled.errors.extend(blamed);
    }
    compiled.elapsed = started.elapsed();
    Ok(compiled)
}

/// The package `cargo hakari` keeps with the workspace's feature set.
const WORKSPACE_HACK: &str = "workspace-hack";

/// The support crate's package name, as the members' manifests name it.
const SUPPORT_CRATE: &str = "lab";

/// A `Cargo.toml` for package `package` with the dependencies of the
/// `flavor` crate, workspace references resolved, and the workspace's lock
/// file beside it.
pub(super) fn write_manifest(
    root: &Path,
    dir: &Path,
    flavor: Flavor,
    package: &str,
) -> Result<(), CompileError> {
    let read = |path: PathBuf| -> Result<toml::Table, CompileError> {
        let text = std::fs::read_to_string(&path).map_err(|source| CompileError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        })?;
        toml::from_str(&text).map_err(|error: toml::de::Error| CompileError::Manifest {
            path: path.display().to_string(),
            message: error.message().to_owned(),
        })
    };
    let workspace = read(root.join("Cargo.toml"))?;
    let member = read(root.join(flavor.name()).join("Cargo.toml"))?;
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    let resolve = |table: Option<&toml::Value>| -> toml::Table {
        let mut resolved = toml::Table::new();
        for (name, spec) in table.and_then(toml::Value::as_table).into_iter().flatten() {
            // The generated crate builds in a folder of its own, so sharing
            // the workspace's feature set buys nothing there.
            if name == WORKSPACE_HACK {
                continue;
            }
            let mut spec = match spec.get("workspace").and_then(toml::Value::as_bool) {
                Some(true) => shared.get(name).cloned().unwrap_or_else(|| spec.clone()),
                _ => spec.clone(),
            };
            // The exercises need the library and its API, not the
            // workspace's shared feature set (`shared-build`), whose package
            // the generated crate leaves out.
            if name == SUPPORT_CRATE
                && let Some(table) = spec.as_table_mut()
            {
                table.insert("default-features".into(), false.into());
                table.insert("features".into(), toml::Value::Array(vec!["api".into()]));
            }
            if let Some(path) = spec.get("path").and_then(toml::Value::as_str) {
                let absolute = root.join(flavor.name()).join(path);
                if let Some(table) = spec.as_table_mut() {
                    table.insert("path".into(), absolute.display().to_string().into());
                }
            }
            resolved.insert(name.clone(), spec);
        }
        resolved
    };
    // No debug information: grading never runs a debugger, a failed test
    // reports its place without it, and it is most of what the compiler
    // writes for a crate holding every answer of the corpus (3 min 45 s to
    // build with it, 2 min 7 s without). The drivers optimised, as in the
    // workspace: built once, they run each graded test's password exchange
    // and BSON work many times faster. The support crate is built as the
    // students' code is, quickly.
    //
    // An empty `[workspace]` of its own: this crate is not a member of the
    // lab's. Each flavor has its own package name: cargo names a path
    // package's build by its name and its place in its own workspace, so
    // two crates both called "graded" would share one test binary in the
    // shared target folder, and after one flavor was built, the other could
    // be taken as up to date and run the wrong code.
    let mut manifest: toml::Table = toml::from_str(&format!(
        "[package]\nname = \"{package}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n[lib]\npath = \"lib.rs\"\n\n[workspace]\n\n[profile.dev]\ndebug = false\n\n[profile.dev.package.\"*\"]\nopt-level = 3\n\n[profile.dev.package.{SUPPORT_CRATE}]\nopt-level = 0\n"
    ))
    .expect("the manifest skeleton is valid TOML");
    manifest.insert(
        "dependencies".into(),
        resolve(member.get("dependencies")).into(),
    );
    manifest.insert(
        "dev-dependencies".into(),
        resolve(member.get("dev-dependencies")).into(),
    );
    let io = |context: String| move |source| CompileError::Io { context, source };
    std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
    let text = toml::to_string(&manifest).expect("a manifest serialises");
    write_if_changed(&dir.join("Cargo.toml"), &text)?;
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    write_if_changed(&dir.join("Cargo.lock"), &lock)
}

/// `lib.rs` including each exercise and its graded tests by absolute path,
/// in the module tree of the real crate (`redis::strings`,
/// `redis::strings_graded`), so the tests' `use super::strings` works.
fn write_lib(
    root: &Path,
    dir: &Path,
    flavor: Flavor,
    included: &[&Exercise],
) -> Result<(), CompileError> {
    #[derive(Default)]
    struct Node {
        children: BTreeMap<String, Node>,
        lines: Vec<String>,
    }
    let mut tree = Node::default();
    for exercise in included {
        let mut segments: Vec<&str> = exercise.file.trim_end_matches(".rs").split('/').collect();
        let leaf = segments.pop().unwrap_or_default();
        let node = segments.into_iter().fold(&mut tree, |node, segment| {
            node.children.entry(segment.to_owned()).or_default()
        });
        node.lines.push(format!(
            "#[path = {:?}]\npub mod {leaf};",
            flavor.file_of(exercise, root).display().to_string()
        ));
        node.lines.push(format!(
            "#[cfg(test)]\n#[path = {:?}]\nmod {leaf}_graded;",
            exercise.graded_file(root).display().to_string()
        ));
    }
    fn render(node: &Node, out: &mut String) {
        for line in &node.lines {
            out.push_str(line);
            out.push('\n');
        }
        for (name, child) in &node.children {
            out.push_str(&format!("pub mod {name} {{\n"));
            render(child, out);
            out.push_str("}\n");
        }
    }
    // Students' unused helpers are none of the grader's business.
    let mut text =
        String::from("// Written by `lab grade`; rewritten on every run.\n#![allow(warnings)]\n");
    render(&tree, &mut text);
    write_if_changed(&dir.join("lib.rs"), &text)
}

/// Writes only when the content differs, so cargo sees no change and does
/// not rebuild when nothing changed.
pub(super) fn write_if_changed(path: &Path, text: &str) -> Result<(), CompileError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(|source| CompileError::Io {
        context: format!("cannot write {}", path.display()),
        source,
    })
}

/// What one `cargo test --no-run` of a generated crate gave.
pub(super) struct Build {
    /// The test binary, when the build succeeded.
    pub(super) executable: Option<PathBuf>,
    /// Each error's primary file and its rendered text, in order.
    pub(super) errors: Vec<(PathBuf, String)>,
    /// The end of cargo's own error output.
    pub(super) stderr_tail: String,
}

#[derive(Deserialize)]
struct CargoMessage {
    reason: String,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    message: Option<Diagnostic>,
    #[serde(default)]
    success: Option<bool>,
}

#[derive(Deserialize)]
struct Diagnostic {
    level: String,
    #[serde(default)]
    rendered: Option<String>,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Span {
    file_name: String,
    is_primary: bool,
}

/// Builds the tests of the generated crate in `dir`, in the grader's own
/// target folder.
pub(super) async fn cargo_build(root: &Path, dir: &Path) -> Result<Build, CompileError> {
    let output = Command::new("cargo")
        .args(["test", "--no-run", "--quiet", "--message-format=json"])
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            root.join("target").join("lab-grade").join("target"),
        )
        .env("CARGO_TERM_COLOR", "never")
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| CompileError::Io {
            context: "cannot run cargo".into(),
            source,
        })?;
    let mut build = Build {
        executable: None,
        errors: Vec::new(),
        stderr_tail: last_lines(&String::from_utf8_lossy(&output.stderr), 5),
    };
    let mut success = false;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<CargoMessage>(line) else {
            continue;
        };
        match message.reason.as_str() {
            "compiler-artifact" => {
                if let Some(executable) = message.executable {
                    build.executable = Some(executable);
                }
            }
            "compiler-message" => {
                let Some(diagnostic) = message.message else {
                    continue;
                };
                if diagnostic.level != "error" {
                    continue;
                }
                let file = diagnostic
                    .spans
                    .iter()
                    .find(|span| span.is_primary)
                    .map(|span| PathBuf::from(&span.file_name))
                    .unwrap_or_default();
                let text = diagnostic
                    .rendered
                    .as_deref()
                    .unwrap_or("a compile error")
                    .trim_end()
                    .to_owned();
                build.errors.push((file, text));
            }
            "build-finished" => success = message.success.unwrap_or(false),
            _ => {}
        }
    }
    if !success {
        build.executable = None;
    }
    Ok(build)
}

/// The last `count` lines of `text`.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_flavors_are_packages_of_different_names() {
        let root = lab::config::repository_root();
        let scratch = std::env::temp_dir().join(format!("lab-manifests-{}", std::process::id()));
        let mut names = Vec::new();
        for flavor in [Flavor::Exercises, Flavor::Solutions] {
            let dir = scratch.join(flavor.name());
            write_manifest(root, &dir, flavor, &format!("graded-{}", flavor.name())).unwrap();
            let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let manifest: toml::Table = toml::from_str(&text).unwrap();
            names.push(manifest["package"]["name"].as_str().unwrap().to_owned());
        }
        assert_eq!(names, ["graded-exercises", "graded-solutions"]);
        std::fs::remove_dir_all(&scratch).unwrap();
    }

    #[test]
    fn the_graded_crate_takes_the_library_without_the_command_or_the_hack() {
        let root = lab::config::repository_root();
        let dir = std::env::temp_dir().join(format!("lab-manifest-deps-{}", std::process::id()));
        write_manifest(root, &dir, Flavor::Exercises, "graded-exercises").unwrap();
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let manifest: toml::Table = toml::from_str(&text).unwrap();
        let dependencies = manifest["dependencies"].as_table().unwrap();
        assert!(!dependencies.contains_key(WORKSPACE_HACK), "{text}");
        let lab = &dependencies["lab"];
        assert_eq!(lab["default-features"].as_bool(), Some(false), "{text}");
        assert_eq!(
            lab["features"].as_array().unwrap(),
            &[toml::Value::from("api")]
        );
        assert!(
            Path::new(lab["path"].as_str().unwrap()).is_absolute(),
            "{text}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
