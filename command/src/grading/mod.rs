//! Grading: the machinery behind `lab grade`, `lab hint`, `lab list`,
//! `lab next`, `lab watch`, `lab reset`, `lab solution` and
//! `lab check-exercises`.
//!
//! Each exercise has a file in `exercises/src/` (the student's), a mirror in
//! `solutions/src/` (the answer key), and one graded test suite in
//! `tests/graded/` that both crates include, so the suite is written once and
//! the answer key proves it passable. `exercises/exercises.toml` gives each
//! test its points and each exercise its hints. `LAB_HOME/progress.json`
//! records each exercise's last grading and any answer key shown.

pub mod catalog;
pub mod check;
pub mod compile;
pub mod confirm;
pub mod corpus;
pub mod course;
pub mod declarations;
pub mod formats;
pub mod hints;
pub mod libtest;
pub mod pristine;
pub mod progress;
pub mod report;
pub mod reset;
pub mod runner;
pub mod solution;
mod tables;
pub mod watch;

pub use catalog::{Catalog, CatalogError, CatalogProblem, Exercise};
pub use compile::Flavor;
pub use report::{ExerciseResult, Report, Status, TestResult};
pub use runner::{GradeError, grade};
