//! Lessons 09 and 10: background jobs. Each exercise's graded tests live
//! once in `tests/graded/jobs/` and are included here.

pub mod done_notice;
pub mod endpoint;
pub mod list_queue;
pub mod reliable_claim;
pub mod worker_step;

#[cfg(test)]
#[path = "../../../tests/graded/jobs/done_notice.rs"]
mod done_notice_graded;
#[cfg(test)]
#[path = "../../../tests/graded/jobs/endpoint.rs"]
mod endpoint_graded;
#[cfg(test)]
#[path = "../../../tests/graded/jobs/list_queue.rs"]
mod list_queue_graded;
#[cfg(test)]
#[path = "../../../tests/graded/jobs/reliable_claim.rs"]
mod reliable_claim_graded;
#[cfg(test)]
#[path = "../../../tests/graded/jobs/worker_step.rs"]
mod worker_step_graded;
