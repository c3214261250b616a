//! Lists, sets, sorted sets, bitmaps and HyperLogLog on billing data. (Answer key.)
//!
//! Scenario: the billing team wants a queue of invoices to email, tags on
//! customers, a leaderboard of revenue, a record of who was active each
//! day, and a count of unique visitors to the pricing page.

use redis::AsyncCommands;
use redis::RedisResult;
use redis::aio::ConnectionManager;

/// Adds `invoice_id` to the back of the queue `queue:emails`: one end of
/// the list, the end [`next_email`] does not take from.
///
/// RPUSH at the back and LPOP at the front make a first-in, first-out queue.
pub async fn enqueue_email(redis: &mut ConnectionManager, invoice_id: &str) -> RedisResult<()> {
    redis.rpush("queue:emails", invoice_id).await
}

/// Takes the oldest invoice id off `queue:emails` (the end opposite
/// [`enqueue_email`]'s), if any.
pub async fn next_email(redis: &mut ConnectionManager) -> RedisResult<Option<String>> {
    redis.lpop("queue:emails", None).await
}

/// Adds `tags` to the set `customer:{id}:tags`; a tag given twice is kept once,
/// and no tags at all changes nothing.
pub async fn tag_customer(
    redis: &mut ConnectionManager,
    id: u32,
    tags: &[&str],
) -> RedisResult<()> {
    // Redis refuses an SADD without members.
    if tags.is_empty() {
        return Ok(());
    }
    redis.sadd(format!("customer:{id}:tags"), tags).await
}

/// The tags customers `a` and `b` share, sorted.
///
/// SINTER computes the intersection on the server; only the answer travels.
pub async fn shared_tags(
    redis: &mut ConnectionManager,
    a: u32,
    b: u32,
) -> RedisResult<Vec<String>> {
    let mut tags: Vec<String> = redis
        .sinter(&[format!("customer:{a}:tags"), format!("customer:{b}:tags")])
        .await?;
    tags.sort();
    Ok(tags)
}

/// Adds `cents` to customer `id`'s score in the sorted set `revenue`
/// (member `customer:{id}`).
///
/// Scores are doubles; whole cents stay exact up to 2^53, far beyond any
/// revenue here, which is why cents and not dollars are the score.
pub async fn add_revenue(redis: &mut ConnectionManager, id: u32, cents: i64) -> RedisResult<()> {
    redis
        .zincr("revenue", format!("customer:{id}"), cents)
        .await
}

/// The `n` best customers by revenue, best first, with their cents.
/// Refunds can leave a customer below 0 cents; they still rank. `n` = 0
/// asks for nobody (mind the stop index: a stop of -1 means "up to the
/// last member", which is everyone).
pub async fn top_customers(
    redis: &mut ConnectionManager,
    n: usize,
) -> RedisResult<Vec<(String, i64)>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    redis
        .zrevrange_withscores("revenue", 0, n as isize - 1)
        .await
}

/// Marks customer number `customer` active on `day` (`YYYY-MM-DD`): bit
/// `customer` of the bitmap `active:{day}`. A million customers fit in 125 kB.
pub async fn mark_active(
    redis: &mut ConnectionManager,
    day: &str,
    customer: usize,
) -> RedisResult<()> {
    redis
        .setbit(format!("active:{day}"), customer, true)
        .await
        .map(|_: bool| ())
}

/// How many customers were active on `day`.
pub async fn active_count(redis: &mut ConnectionManager, day: &str) -> RedisResult<u64> {
    redis.bitcount(format!("active:{day}")).await
}

/// Counts `visitor` in the HyperLogLog `visitors:{page}`.
///
/// A HyperLogLog remembers about how many *different* values it saw, in at
/// most 12 kB, whatever their number, at the price of a small error.
pub async fn record_visitor(
    redis: &mut ConnectionManager,
    page: &str,
    visitor: &str,
) -> RedisResult<()> {
    redis
        .pfadd(format!("visitors:{page}"), visitor)
        .await
        .map(|_: bool| ())
}

/// About how many different visitors `page` had.
pub async fn unique_visitors(redis: &mut ConnectionManager, page: &str) -> RedisResult<u64> {
    redis.pfcount(format!("visitors:{page}")).await
}
