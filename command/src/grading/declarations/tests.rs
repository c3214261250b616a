//! Tests of `declarations`.

use super::*;

const CATALOG: &str = r#"
[[exercise]]
id = "redis-strings"
title = "Strings"
lesson = "01 Redis basics"
minutes = 20
file = "redis/strings.rs"
hints = ["one"]
tests = [{ name = "stores", points = 5 }]

[[exercise]]
id = "jobs-endpoint"
title = "Endpoint"
lesson = "10 The whole system"
minutes = 30
file = "jobs/endpoint.rs"
hints = ["one"]
tests = [{ name = "answers", points = 4 }]
"#;

/// A small repository whose files all agree with [`CATALOG`], removed
/// when dropped.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let root =
            std::env::temp_dir().join(format!("lab-declarations-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let scratch = Scratch { root };
        scratch.write("exercises/exercises.toml", CATALOG);
        for crate_name in ["exercises", "solutions"] {
            scratch.write(
                &format!("{crate_name}/src/lib.rs"),
                "//! The crate.\n\n#![allow(dead_code)]\n\npub mod jobs;\npub mod redis;\n",
            );
            for (folder, leaf) in [("redis", "strings"), ("jobs", "endpoint")] {
                scratch.write(
                    &format!("{crate_name}/src/{folder}/mod.rs"),
                    &format!(
                        "//! A topic.\n\npub mod {leaf};\n\n#[cfg(test)]\n\
                             #[path = \"../../../tests/graded/{folder}/{leaf}.rs\"]\n\
                             mod {leaf}_graded;\n"
                    ),
                );
                scratch.write(&format!("{crate_name}/src/{folder}/{leaf}.rs"), "// TODO\n");
                scratch.write(&format!("tests/graded/{folder}/{leaf}.rs"), "#[test]\n");
            }
        }
        scratch.write(
            "README.md",
            "| Exercise | Lesson | Points |\n| --- | --- | --- |\n\
                 | `redis-strings` | 01 | 5 |\n| `jobs-endpoint` | 10 | 4 |\n",
        );
        scratch.write(
                "notebooks/README.md",
                "| Notebook | Exercises | Time |\n| --- | --- | --- |\n\
                 | `01` | `redis-strings` | 40 + 20 min |\n| `10` | `jobs-endpoint` | 45 + 30 min |\n",
            );
        scratch
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn edit(&self, path: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.root.join(path)).unwrap();
        assert!(text.contains(from), "{path} does not contain {from:?}");
        self.write(path, &text.replace(from, to));
    }

    fn problems(&self) -> Vec<String> {
        problems(&Catalog::load(&self.root).unwrap())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn a_tree_that_agrees_with_its_catalogue_has_no_problems() {
    let scratch = Scratch::new("agrees");
    assert_eq!(scratch.problems(), Vec::<String>::new());
    assert!(check(&Catalog::load(&scratch.root).unwrap()).is_ok());
}

#[test]
fn a_declaration_of_no_exercise_says_which_line_to_remove() {
    let scratch = Scratch::new("extra");
    scratch.edit(
        "exercises/src/jobs/mod.rs",
        "pub mod endpoint;",
        "pub mod endpoint;\npub mod foo;",
    );
    scratch.edit(
        "solutions/src/lib.rs",
        "pub mod redis;",
        "pub mod redis;\nmod web;",
    );
    assert_eq!(
        scratch.problems(),
        [
            "exercises/src/jobs/mod.rs declares `pub mod foo;` but exercises.toml has no \
                 exercise with file jobs/foo.rs: add one or remove the line",
            "solutions/src/lib.rs declares `mod web;` but exercises.toml has no exercise \
                 with file web.rs: add one or remove the line",
        ]
    );
}

#[test]
fn an_exercise_or_folder_not_declared_is_reported() {
    let scratch = Scratch::new("undeclared");
    scratch.edit("solutions/src/redis/mod.rs", "pub mod strings;", "");
    scratch.edit("exercises/src/lib.rs", "pub mod jobs;", "");
    assert_eq!(
        scratch.problems(),
        [
            "exercises/src/lib.rs does not declare `pub mod jobs;`, the folder of \
                 jobs-endpoint: add the line",
            "solutions/src/redis/mod.rs does not declare `pub mod strings;`, the module of \
                 redis-strings: add the line",
        ]
    );
}

#[test]
fn a_private_exercise_module_must_be_public() {
    let scratch = Scratch::new("private");
    scratch.edit(
        "exercises/src/redis/mod.rs",
        "pub mod strings;",
        "mod strings;",
    );
    assert_eq!(
        scratch.problems(),
        [
            "exercises/src/redis/mod.rs declares `mod strings;`: make it `pub mod strings;`, \
              as the grader's crate does"
        ]
    );
}

#[test]
fn a_graded_suite_included_from_elsewhere_or_not_at_all_is_reported() {
    let scratch = Scratch::new("includes");
    scratch.edit(
        "exercises/src/jobs/mod.rs",
        "graded/jobs/endpoint.rs",
        "graded/jobs/endpoints.rs",
    );
    scratch.edit(
        "solutions/src/redis/mod.rs",
        "#[path = \"../../../tests/graded/redis/strings.rs\"]\n",
        "",
    );
    scratch.edit(
        "solutions/src/jobs/mod.rs",
        "endpoint_graded",
        "endpoint_tests",
    );
    assert_eq!(
        scratch.problems(),
        [
            "exercises/src/jobs/mod.rs declares `mod endpoint_graded;` from \
                 \"../../../tests/graded/jobs/endpoints.rs\", but jobs-endpoint's graded suite is \
                 tests/graded/jobs/endpoint.rs: write \
                 `#[path = \"../../../tests/graded/jobs/endpoint.rs\"]` above it",
            "solutions/src/jobs/mod.rs includes `mod endpoint_tests;` from \
                 \"../../../tests/graded/jobs/endpoint.rs\", but no exercise in exercises.toml \
                 has that graded suite: add one or remove the lines",
            "solutions/src/jobs/mod.rs does not include the graded suite of jobs-endpoint: \
                 add `#[cfg(test)] #[path = \"../../../tests/graded/jobs/endpoint.rs\"] \
                 mod endpoint_graded;`",
            "solutions/src/redis/mod.rs declares `mod strings_graded;` without a `#[path]`, \
                 but redis-strings's graded suite is tests/graded/redis/strings.rs: write \
                 `#[path = \"../../../tests/graded/redis/strings.rs\"]` above it",
        ]
    );
}

#[test]
fn missing_files_and_files_of_no_exercise_are_reported() {
    let scratch = Scratch::new("files");
    std::fs::remove_file(scratch.root.join("solutions/src/jobs/endpoint.rs")).unwrap();
    std::fs::remove_file(scratch.root.join("tests/graded/redis/strings.rs")).unwrap();
    scratch.write("tests/graded/redis/lists.rs", "");
    scratch.write("exercises/src/redis/helpers.rs", "");
    assert_eq!(
        scratch.problems(),
        [
            "exercises/src/redis/helpers.rs belongs to no exercise in exercises/exercises.toml: \
                 add one with file redis/helpers.rs, or remove the file",
            "solutions/src/jobs/endpoint.rs does not exist, but exercises/exercises.toml gives \
                 jobs-endpoint the file jobs/endpoint.rs: add it, or correct the exercise's `file`",
            "tests/graded/redis/strings.rs does not exist, but the grader runs the tests of \
                 redis-strings from there: add the suite, or correct the exercise's `file` in \
                 exercises.toml",
            "tests/graded/redis/lists.rs belongs to no exercise in exercises/exercises.toml \
                 (a suite is tests/graded/<the exercise's file>): add one with file \
                 redis/lists.rs, or remove the suite",
        ]
    );
}

#[test]
fn a_new_catalogue_entry_alone_lists_everything_left_to_add() {
    let scratch = Scratch::new("new-entry");
    scratch.write(
        "exercises/exercises.toml",
        &format!(
            "{CATALOG}\n[[exercise]]\nid = \"web-forms\"\ntitle = \"Forms\"\n\
                 lesson = \"07 Web\"\nminutes = 15\nfile = \"web/forms.rs\"\nhints = [\"one\"]\n\
                 tests = [{{ name = \"posts\", points = 3 }}]\n"
        ),
    );
    let problems = scratch.problems();
    let files = [
        "exercises/src/web/forms.rs does not exist",
        "exercises/src/lib.rs does not declare `pub mod web;`",
        "exercises/src/web/mod.rs does not exist",
        "solutions/src/web/forms.rs does not exist",
        "solutions/src/lib.rs does not declare `pub mod web;`",
        "solutions/src/web/mod.rs does not exist",
        "tests/graded/web/forms.rs does not exist",
        "README.md's exercise table has no row for `web-forms`",
        "notebooks/README.md's lessons table lists `web-forms` in no row",
    ];
    for start in files {
        assert!(
            problems.iter().any(|p| p.starts_with(start)),
            "no problem starts with {start:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), files.len(), "{problems:#?}");
}

#[test]
fn the_error_lists_every_problem_once() {
    let scratch = Scratch::new("error");
    scratch.edit("exercises/src/redis/mod.rs", "pub mod strings;", "");
    scratch.edit("README.md", "| 4 |", "| 3 |");
    let error = check(&Catalog::load(&scratch.root).unwrap()).unwrap_err();
    assert_eq!(error.problems.len(), 2);
    let text = error.to_string();
    assert!(
        text.contains("nothing was compiled; fix these (2 to fix)"),
        "{text}"
    );
    for problem in &error.problems {
        assert_eq!(text.matches(problem.as_str()).count(), 1, "{text}");
    }
}

#[test]
fn module_lines_are_read_with_their_path_and_visibility() {
    let text = "//! Doc with mod fake;\n#![allow(x)]\npub mod a; // why\n\n#[cfg(test)]\n\
                    #[path = \"../t/a.rs\"]\nmod a_graded;\npub(crate) mod b;\nuse c;\nmod d;\n";
    let found = declarations(text);
    let summary: Vec<(&str, bool, Option<&str>)> = found
        .iter()
        .map(|d| (d.name.as_str(), d.public, d.path.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("a", true, None),
            ("a_graded", false, Some("../t/a.rs")),
            ("b", false, None),
            ("d", false, None),
        ]
    );
}

/// `cargo test` fails on a forgotten declaration too, before CI gets to
/// `lab check-exercises`.
#[test]
fn the_repository_agrees_with_its_catalogue() {
    let config = lab::Config::for_home(std::env::temp_dir(), Vec::new());
    let catalog = Catalog::load(&config.repository()).unwrap();
    let problems = problems(&catalog);
    assert!(problems.is_empty(), "{}", bulleted(&problems));
}
