//! The billing data set: generated from a seed, loaded into MongoDB.

pub mod catalogue;
pub mod generator;
pub mod loader;
pub mod rng;

pub use generator::{DEFAULT_SEED, Generator};
pub use loader::{Existing, SeedError, SeedProgress, SeedReport, SeedSpec, seed};
