//! Which Redis a test runs on, one server or a cluster of its own, and the
//! macro that runs a test once on each.

/// Which kind of Redis a test gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// One server (or a leased database of `REDIS_URL`).
    Single,
    /// A Redis Cluster of the test's own: `masters` masters sharing the
    /// slots, each followed by `replicas` replicas.
    Cluster {
        /// How many masters.
        masters: usize,
        /// How many replicas per master.
        replicas: usize,
    },
}

impl Topology {
    /// The cluster the job and cache suites also run on: three masters, no
    /// replicas (fast to form; the failover tests ask for replicas).
    pub const CLUSTER: Topology = Topology::Cluster {
        masters: 3,
        replicas: 0,
    };
}

/// Writes each test twice, as `NAME::single_redis` and `NAME::cluster`: the
/// body gets the [`Topology`] to start its environment on. A test may begin
/// with `[runtime(flavor = "multi_thread", worker_threads = 2)]`, the
/// arguments of its `#[tokio::test]`.
///
/// ```ignore
/// lab::on_each_topology! {
///     async fn a_job_runs_once(topology) {
///         let env = TestEnv::start_on(topology).await;
///         // ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! on_each_topology {
    ($(
        $([runtime($($runtime:tt)*)])?
        $(#[$attribute:meta])* async fn $name:ident($topology:ident) $body:block
    )+) => {$(
        $(#[$attribute])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[::tokio::test($($($runtime)*)?)]
            async fn single_redis() {
                run($crate::testing::Topology::Single).await
            }

            #[::tokio::test($($($runtime)*)?)]
            async fn cluster() {
                run($crate::testing::Topology::CLUSTER).await
            }

            async fn run($topology: $crate::testing::Topology) $body
        }
    )+};
}
