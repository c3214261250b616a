//! Why a test environment could not be made.

use crate::dataset;
use crate::services::ServiceError;

/// Why a test environment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A server could not be started or reached.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The test data could not be loaded.
    #[error(transparent)]
    Seed(#[from] dataset::SeedError),
    /// A database request failed.
    #[error("{action}: {source}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// The driver's error.
        source: mongodb::error::Error,
    },
}
