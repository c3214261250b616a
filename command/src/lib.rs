//! # The `lab` command's operations
//!
//! What the `lab` command does, on top of the course's model (the support
//! crate, `lab`): the lab's servers and helpers brought up and down,
//! grading, the lessons' Jupyter and notebook checks, and the benchmarks.
//! Notebooks and exercises never depend on this crate. A map:
//!
//! - [`control`]: what `lab up`, `lab down`, `lab status`, `lab env` and
//!   `lab doctor` do.
//! - [`grading`]: `lab grade`, hints, resets and the course's own checks.
//! - [`lessons`]: notebook files, the lab's own Jupyter, and the check that
//!   every notebook still runs and prints what it shows.
//! - [`bench`](mod@bench): the measurements behind `lab bench`.
//! - [`log_file`]: where `lab serve` writes its log.
//!
//! The `lab` binary (`src/bin/lab/`) only parses arguments and prints; the
//! logic is here, where it is tested.

pub mod bench;
pub mod control;
pub mod grading;
pub mod lessons;
pub mod log_file;
