//! No code: this package exists for its `Cargo.toml`.
//!
//! Cargo enables a dependency's features according to the packages a
//! command selects, so `cargo test -p exercises` or `cargo lab` would
//! otherwise build `serde_json`, `tracing`, `syn` and everything above them
//! (the MongoDB and Redis drivers included) a second time, with fewer
//! features than `cargo test` at the root used. Every member depends on
//! this package, which asks for the union, so each selection builds the same
//! artifacts. `cargo hakari generate` rewrites the list after a dependency
//! changes, and `cargo hakari verify` checks it (`.ci/run` does).
