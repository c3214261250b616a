//! Grading: the machinery behind `lab grade`, `lab hint`, `lab reset` and
//! `lab check-exercises`.
//!
//! Each exercise has a file in `exercises/src/` (the student's), a mirror in
//! `solutions/src/` (the answer key), and one graded test suite in
//! `tests/graded/` that both crates include, so the suite is written once and
//! the answer key proves it passable. `exercises/exercises.toml` gives each
//! test its points and each exercise its hints.

pub mod catalog;
pub mod check;
pub mod compile;
pub mod corpus;
pub mod formats;
pub mod hints;
pub mod libtest;
pub mod pristine;
pub mod report;
pub mod runner;
pub mod watch;

pub use catalog::{Catalog, CatalogError, Exercise};
pub use compile::Flavor;
pub use report::{ExerciseResult, Report, Status, TestResult};
pub use runner::{GradeError, grade};
