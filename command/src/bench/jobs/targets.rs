//! The figures the lab's are printed beside: the targets and
//! Sidekiq's published rate.

/// The target with two worker processes, in jobs per second: ten
/// times the best RQ figure seen with two workers (435 jobs/s).
pub const TARGET_RATE: f64 = 4_400.0;

/// The target next to RQ measured in the same run.
pub const TARGET_TIMES_RQ: f64 = 10.0;

/// Sidekiq's published figure, in its README's words.
pub const SIDEKIQ_PUBLISHED: &str =
    "Sidekiq README: 23,500 jobs/s, one process, Ruby 3.2+YJIT, concurrency 30, 500,000 jobs";

/// Sidekiq's published rate.
pub const SIDEKIQ_RATE: f64 = 23_500.0;
