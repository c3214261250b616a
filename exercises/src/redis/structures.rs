//! Lists, sets, sorted sets, bitmaps and HyperLogLog on billing data.
//!
//! Scenario: the billing team wants a queue of invoices to email, tags on
//! customers, a leaderboard of revenue, a record of who was active each
//! day, and a count of unique visitors to the pricing page. Each wants a
//! different Redis structure; pick the right one for each helper.

use redis::AsyncCommands;
use redis::RedisResult;
use redis::aio::ConnectionManager;

/// Adds `invoice_id` to the back of the queue `queue:emails`: one end of
/// the list, the end [`next_email`] does not take from.
pub async fn enqueue_email(redis: &mut ConnectionManager, invoice_id: &str) -> RedisResult<()> {
    // TODO: push onto the back of `queue:emails`.
    todo!()
}

/// Takes the oldest invoice id off `queue:emails` (the end opposite
/// [`enqueue_email`]'s), if any.
pub async fn next_email(redis: &mut ConnectionManager) -> RedisResult<Option<String>> {
    // TODO: pop from the front, so the oldest comes first.
    todo!()
}

/// Adds `tags` to the set `customer:{id}:tags`; a tag given twice is kept once,
/// and no tags at all changes nothing.
pub async fn tag_customer(
    redis: &mut ConnectionManager,
    id: u32,
    tags: &[&str],
) -> RedisResult<()> {
    // TODO: add the tags to the set `customer:{id}:tags`.
    todo!()
}

/// The tags customers `a` and `b` share, sorted.
pub async fn shared_tags(
    redis: &mut ConnectionManager,
    a: u32,
    b: u32,
) -> RedisResult<Vec<String>> {
    // TODO: intersect the two sets on the server; sort the answer.
    todo!()
}

/// Adds `cents` to customer `id`'s score in the sorted set `revenue`
/// (member `customer:{id}`).
pub async fn add_revenue(redis: &mut ConnectionManager, id: u32, cents: i64) -> RedisResult<()> {
    // TODO: increase the member's score.
    todo!()
}

/// The `n` best customers by revenue, best first, with their cents.
/// Refunds can leave a customer below 0 cents; they still rank. `n` = 0
/// asks for nobody (mind the stop index: a stop of -1 means "up to the
/// last member", which is everyone).
pub async fn top_customers(
    redis: &mut ConnectionManager,
    n: usize,
) -> RedisResult<Vec<(String, i64)>> {
    // TODO: the highest scores first, with their scores.
    todo!()
}

/// Marks customer number `customer` active on `day` (`YYYY-MM-DD`): bit
/// `customer` of the bitmap `active:{day}`.
pub async fn mark_active(
    redis: &mut ConnectionManager,
    day: &str,
    customer: usize,
) -> RedisResult<()> {
    // TODO: set one bit.
    todo!()
}

/// How many customers were active on `day`.
pub async fn active_count(redis: &mut ConnectionManager, day: &str) -> RedisResult<u64> {
    // TODO: count the bits that are set.
    todo!()
}

/// Counts `visitor` in the HyperLogLog `visitors:{page}`.
pub async fn record_visitor(
    redis: &mut ConnectionManager,
    page: &str,
    visitor: &str,
) -> RedisResult<()> {
    // TODO: add the visitor to the HyperLogLog.
    todo!()
}

/// About how many different visitors `page` had.
pub async fn unique_visitors(redis: &mut ConnectionManager, page: &str) -> RedisResult<u64> {
    // TODO: ask the HyperLogLog for its count.
    todo!()
}
