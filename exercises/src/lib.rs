//! # Graded exercises
//!
//! The files students edit, one per exercise, grouped by topic (a Rust
//! warm-up, Redis, MongoDB, the API and caching, background jobs). Each
//! opens with a short scenario, marks the places to work with `// TODO`,
//! and compiles before it is solved, so one unfinished exercise never stops
//! the others from being graded.
//!
//! The root's `cargo test` does not build this crate: unsolved exercises
//! fail by design. Students run their tests here with `cargo test -p exercises`.

// An unfinished exercise ignores its arguments, the imports it will need
// and the helpers it is given, until it is solved.
#![allow(unused_variables, unused_imports, dead_code)]

pub mod api;
pub mod jobs;
pub mod mongodb;
pub mod redis;
pub mod rust;
