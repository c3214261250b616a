//! `lab up`, `lab down` and `lab status`.
//!
//! `up` starts what is not running, records it in the state file, and loads
//! the standard data set into an empty database; `down` stops what `up`
//! started; `status` says what runs. Servers given by `REDIS_URL` or
//! `MONGODB_URI` are used, never started or stopped.

mod down;
mod lock;
mod servers;
mod status;
mod up;

pub use down::{DownReport, down, roll_back};
pub(in crate::control) use lock::lock;
pub use status::{Health, ServiceStatus, status};
pub use up::{UpOptions, UpOutcome, up};
