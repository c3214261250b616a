//! Running a Redis Cluster of real `redis-server` processes.
//!
//! A cluster splits the 16,384 hash slots between masters; each key lives in
//! the slot of its name (or of the part between `{` and `}`, its hash tag),
//! and a replica of each master takes over when the master fails. The lab
//! forms one on this machine the way `redis-cli --cluster create` does, with
//! the commands themselves so no other tool is needed:
//!
//! 1. every node starts with `cluster-enabled`, its own folder and a bus port;
//! 2. each master is given an equal, contiguous range of slots
//!    (`CLUSTER ADDSLOTSRANGE`) and a distinct configuration epoch;
//! 3. the first node meets every other (`CLUSTER MEET`), and gossip spreads
//!    the rest;
//! 4. each replica follows its master (`CLUSTER REPLICATE`);
//! 5. it is ready when every node reports `cluster_state:ok` and every
//!    replica's link to its master is up.
//!
//! `nodes` starts the nodes, `form` forms them into a cluster (with
//! `commands` to talk to each), and `managed` holds the running cluster.

mod commands;
mod form;
mod managed;
mod nodes;

pub use form::{SLOTS, slot_range, start};
pub use managed::{ClusterNode, ManagedCluster};
pub use nodes::ClusterOptions;
