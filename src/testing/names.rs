//! Names and folders of the things a test makes: unique among runs, and
//! found again by a later run when the one that made them died.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Config;

/// `p<pid>-<counter>-<random>`: unique among this run's tests, parallel runs
/// and earlier runs on a shared server, and short, since MongoDB limits the
/// length of names. The pid lets a later run find folders left by a dead one.
pub(super) fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = bson::oid::ObjectId::new().to_hex();
    format!(
        "p{}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &random[18..]
    )
}

/// The folder for a test's server files under the lab's home. Folders of test
/// processes that no longer run are removed the first time this is called.
pub(super) fn test_dir(config: &Config, name: &str) -> std::path::PathBuf {
    static CLEANED: std::sync::Once = std::sync::Once::new();
    let root = config.home.join("test");
    CLEANED.call_once(|| crate::services::process::remove_dirs_of_ended(&root));
    root.join(name)
}
