//! Webhooks: a job submitted with a webhook URL has it called (`POST`, a
//! JSON summary of the job) once the job is over. Delivery is itself a
//! small job: the finishing script puts the job on the `webhooks` schedule;
//! a deliverer claims it with a lease, posts, and records the answer.
//! Anything but a 2xx is retried with backoff, up to [`MAX_DELIVERIES`]
//! attempts, then abandoned; every attempt is an event on the job.
//!
//! The lab calls plain `http://` URLs only (it makes no TLS connections).
//!
//! A webhook is a request the lab makes on a stranger's behalf, so it must
//! not become a way into what only the lab can reach (server-side request
//! forgery): the host is resolved, every address that is loopback, private,
//! link-local, shared, multicast or otherwise not on the public internet is
//! refused, and the connection goes to the address that was checked, so a
//! second DNS answer cannot switch it. Local receivers (a lesson's, a
//! test's) are let through only as `host:port` pairs named in
//! `LAB_WEBHOOK_ALLOW` ([`WebhookPolicy`]), which never opens Redis, MongoDB
//! or the API unless their port is named. Redirects are not followed, an
//! attempt is bounded in time ([`DELIVERY_TIMEOUT`]) and only the status
//! line of the answer is read (at most 8 KiB).

mod delivery;
mod error;
mod policy;
mod url;

pub use delivery::{
    DELIVERY_TIMEOUT, Delivery, MAX_DELIVERIES, MAX_URL, RETRY_BASE, RETRY_CAP, deliver_one,
};
pub use error::WebhookError;
pub use policy::{WebhookPolicy, is_public};
pub use url::WebhookUrl;
