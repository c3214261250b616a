//! The programs the lab runs but does not build into itself: finding them,
//! and installing the missing ones where that can be done without asking.
//!
//! Redis comes from the operating system's packages. The embedded MongoDB
//! server, `secantusd-rs`, comes from crates.io and is built once with
//! `cargo install`. It is deliberately a separate program and never a library
//! dependency of ours: its licence (GPL-2.0-only) and its minimum Rust
//! version (newer than ours) both keep it at arm's length, and a separate
//! process is also what a real MongoDB deployment looks like.
//!
//! `catalog` says what is needed and where it comes from, `find` looks for
//! it, and `install` installs what is missing.

mod catalog;
mod find;
mod install;

pub use catalog::{
    EVCXR_CRATE, EVCXR_VERSION, Platform, SECANTUS_CRATE, SECANTUS_PROGRAM, SECANTUS_VERSION, Tool,
};
pub use find::{Toolbox, find_program};
pub use install::{ToolError, run_logged};
