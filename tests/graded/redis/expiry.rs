//! Graded tests of the expiry exercise, shared by `exercises` and `solutions`.

use super::expiry::*;
use lab::testing::{TestEnv, inspect};
use redis::AsyncCommands;

#[tokio::test]
async fn a_session_is_stored_with_an_expiry() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    start_session(&mut redis, "t0k3n", "ada@example.com")
        .await
        .unwrap();
    let user: Option<String> = redis.get("session:t0k3n").await.unwrap();
    assert_eq!(
        user.as_deref(),
        Some("ada@example.com"),
        "the session belongs under `session:t0k3n`"
    );
    let ttl = inspect::ttl(&mut redis, "session:t0k3n").await;
    assert!(
        matches!(ttl, Some(seconds) if (1790..=1800).contains(&seconds)),
        "`session:t0k3n` must expire in 1800 seconds, TTL says {ttl:?}; a session must not live forever"
    );
}

#[tokio::test]
async fn touching_a_session_gives_it_the_full_time_again() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let _: () = redis
        .set_ex("session:abc", "grace@example.com", 10)
        .await
        .unwrap();
    assert!(
        touch_session(&mut redis, "abc").await.unwrap(),
        "touching a live session answers true"
    );
    let ttl = inspect::ttl(&mut redis, "session:abc").await;
    assert!(
        matches!(ttl, Some(seconds) if seconds > 1700),
        "after a touch `session:abc` must have 1800 s again, TTL says {ttl:?}"
    );
    assert!(
        !touch_session(&mut redis, "gone").await.unwrap(),
        "an expired session cannot be touched back to life"
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        ["session:abc"],
        "touching a missing session must not create it"
    );
}

#[tokio::test]
async fn ttl_answers_are_translated() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let _: () = redis.set("plain", "x").await.unwrap();
    let _: () = redis.set_ex("brief", "x", 100).await.unwrap();
    assert_eq!(
        expiry_of(&mut redis, "absent").await.unwrap(),
        Expiry::Missing,
        "TTL answers -2 for a missing key"
    );
    assert_eq!(
        expiry_of(&mut redis, "plain").await.unwrap(),
        Expiry::Never,
        "TTL answers -1 for a key without expiry"
    );
    let brief = expiry_of(&mut redis, "brief").await.unwrap();
    assert!(
        matches!(brief, Expiry::In(seconds) if (95..=100).contains(&seconds)),
        "got {brief:?}"
    );
}
