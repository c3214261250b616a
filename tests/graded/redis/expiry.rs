//! Graded tests of the expiry exercise, shared by `exercises` and `solutions`.
//!
//! A session must never exist without its expiry, even for a moment: the
//! tests check the commands sent as well as the TTL left behind.

use super::expiry::*;
use lab::services::{Origin, connect_redis};
use lab::testing::{TestEnv, inspect, restricted_redis, stoppable_redis};
use redis::AsyncCommands;

#[tokio::test]
async fn a_session_is_stored_with_an_expiry() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let recording = env.record_redis().await;
    start_session(&mut redis, "t0k3n", "ada@example.com")
        .await
        .expect("start_session returned an error");
    let sent = recording.finish().await;
    let user: Option<String> = redis.get("session:t0k3n").await.unwrap();
    assert_eq!(
        user.as_deref(),
        Some("ada@example.com"),
        "the session belongs under `session:t0k3n` and holds the user"
    );
    let ttl = inspect::ttl(&mut redis, "session:t0k3n").await;
    assert!(
        matches!(ttl, Some(seconds) if (1790..=1800).contains(&seconds)),
        "`session:t0k3n` must expire in 1800 seconds, TTL says {ttl:?}; a session must not live forever"
    );
    // One command, or several that nothing can come between (one
    // MULTI/EXEC or one script): the value and its expiry arrive together.
    let one_command = match sent.names().as_slice() {
        ["SETEX"] | ["PSETEX"] => true,
        ["SET"] => ["EX", "PX", "EXAT", "PXAT"]
            .iter()
            .any(|option| sent.commands[0].has_option(option)),
        _ => sent.is_atomic(),
    };
    assert!(
        one_command,
        "start_session sent {}: a session must be stored with its expiry in one command \
         (SETEX, or SET with EX) or one MULTI/EXEC transaction; with SET and then EXPIRE, a \
         crash between the two leaves a session that never expires",
        sent.listing()
    );
    lab::graded_snapshot!(
        "expiry_session",
        inspect::dump(&mut redis).await,
        "start_session must leave exactly one string key, `session:t0k3n`, holding the user and expiring"
    );
    let _: () = redis
        .set_ex("session:r3us3d", "stale@example.com", 5)
        .await
        .unwrap();
    let recording = env.record_redis().await;
    start_session(&mut redis, "r3us3d", "grace@example.com")
        .await
        .expect("start_session returned an error for a token already in use");
    let sent = recording.finish().await;
    let user: Option<String> = redis.get("session:r3us3d").await.unwrap();
    let ttl = inspect::ttl(&mut redis, "session:r3us3d").await;
    assert!(
        user.as_deref() == Some("grace@example.com")
            && matches!(ttl, Some(seconds) if seconds >= 1790),
        "starting a session on a token already in use replaces the old session: \
         `session:r3us3d` must hold the user grace@example.com for 1800 seconds, but it holds \
         the user {user:?} and TTL says {ttl:?}; start_session sent {} (SET with NX keeps the \
         old user and its old expiry, yet answers Ok as if the session had started)",
        sent.listing()
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
    let recording = env.record_redis().await;
    let touched = touch_session(&mut redis, "abc")
        .await
        .expect("touch_session returned an error");
    let sent = recording.finish().await;
    assert!(touched, "touching a live session answers true");
    let ttl = inspect::ttl(&mut redis, "session:abc").await;
    assert!(
        matches!(ttl, Some(seconds) if (1790..=1800).contains(&seconds)),
        "after a touch `session:abc` must have 1800 s again (TTL between 1790 and 1800), TTL \
         says {ttl:?}; touch_session sent {}: EXPIRE counts in seconds and PEXPIRE in \
         milliseconds, so a number meant for one given to the other makes the session last a \
         thousand times too long or too short",
        sent.listing()
    );
    // GETEX with EX resets the expiry too, and answers nil for a missing
    // session: as good as EXPIRE, and so are their absolute forms (EXPIREAT,
    // GETEX EXAT). The TTL above shows the time given was right. A script
    // that checks the session before its EXPIRE is one step too: nothing
    // can come between the check and the touch.
    let touches: Vec<_> = sent
        .data_commands()
        .into_iter()
        .filter(|command| {
            !matches!(
                command.name.as_str(),
                "EXISTS" | "GET" | "TTL" | "PTTL" | "TYPE"
            )
        })
        .collect();
    let one_touch = sent.is_atomic()
        && match touches.as_slice() {
            [touch] => match touch.name.as_str() {
                "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => true,
                "GETEX" => ["EX", "PX", "EXAT", "PXAT"]
                    .iter()
                    .any(|option| touch.has_option(option)),
                _ => false,
            },
            _ => false,
        };
    assert!(
        one_touch,
        "touching a session is one EXPIRE (or one GETEX with EX), which also answers whether the \
         session still exists; touch_session sent {} (asking EXISTS in a command of its own first \
         gives an answer that can be stale by the time the EXPIRE runs, and writing the value \
         again can bring an expired session back to life)",
        sent.listing()
    );
    let user: Option<String> = redis.get("session:abc").await.unwrap();
    assert_eq!(
        user.as_deref(),
        Some("grace@example.com"),
        "touching a session keeps its user"
    );
    assert!(
        !touch_session(&mut redis, "gone")
            .await
            .expect("touching a missing session is not an error"),
        "an expired session cannot be touched back to life: answer false"
    );
    assert_eq!(
        inspect::keys(&mut redis).await,
        ["session:abc"],
        "touching a missing session must not create it"
    );
    // A Redis whose user may not write: the EXPIRE is refused (NOPERM).
    let server = stoppable_redis().await;
    let mut admin = connect_redis(server.url(), Origin::Lab).await.unwrap();
    let _: () = admin
        .set_ex("session:abc", "grace@example.com", 10)
        .await
        .unwrap();
    let mut refusing = restricted_redis(&server, &["-@write"]).await;
    let outcome = touch_session(&mut refusing, "abc").await;
    assert!(
        outcome.is_err(),
        "when Redis refuses the EXPIRE (here its user may not write), the session is not touched \
         and will expire on time: touch_session must return that error (`?`, or return what \
         `expire` answers) so the caller can tell a failing server from an expired session; it \
         answered {outcome:?} (reading an error as `false` logs the customer out whenever Redis \
         has a hiccup)"
    );
}

#[tokio::test]
async fn ttl_answers_are_translated() {
    let env = TestEnv::start().await;
    let mut redis = env.redis().await;
    let _: () = redis.set("plain", "x").await.unwrap();
    let _: () = redis.set_ex("brief", "x", 100).await.unwrap();
    assert_eq!(
        expiry_of(&mut redis, "absent")
            .await
            .expect("expiry_of returned an error"),
        Expiry::Missing,
        "TTL answers -2 for a missing key: that is `Expiry::Missing`"
    );
    assert_eq!(
        expiry_of(&mut redis, "plain").await.unwrap(),
        Expiry::Never,
        "TTL answers -1 for a key without expiry: that is `Expiry::Never`"
    );
    let recording = env.record_redis().await;
    let brief = expiry_of(&mut redis, "brief").await.unwrap();
    let sent = recording.finish().await;
    assert!(
        matches!(brief, Expiry::In(seconds) if (95..=100).contains(&seconds)),
        "a key set to expire in 100 s is `Expiry::In(100)` or a little less, got {brief:?}"
    );
    assert!(
        sent.names() == ["TTL"] || sent.names() == ["PTTL"],
        "TTL alone tells all three cases apart (-2, -1, seconds); expiry_of sent {}",
        sent.listing()
    );
    // A key with less than half a second left: TTL answers 0, yet the key
    // is still there. Asked again if it expired before expiry_of asked.
    let mut fading = None;
    for _ in 0..5 {
        let _: () = redis.pset_ex("fading", "x", 400).await.unwrap();
        let answer = expiry_of(&mut redis, "fading").await.unwrap();
        let left: i64 = redis.pttl("fading").await.unwrap();
        if left > 0 {
            fading = Some(answer);
            break;
        }
    }
    if let Some(answer) = fading {
        assert!(
            matches!(answer, Expiry::In(seconds) if seconds <= 1),
            "`fading` expires in less than half a second, so TTL answers 0 for it, yet the key \
             still exists (GET still reads it): that is `Expiry::In(0)`, got {answer:?}; only \
             -2 means missing, so match -2 and -1 and let every other answer be `Expiry::In`"
        );
    }

    // A Redis whose user may not read: the TTL is refused (NOPERM).
    let server = stoppable_redis().await;
    let mut refusing = restricted_redis(&server, &["-@read"]).await;
    let outcome = expiry_of(&mut refusing, "session:t0k3n").await;
    assert!(
        outcome.is_err(),
        "when Redis refuses the TTL (here its user may not read), nobody knows whether the key \
         exists: expiry_of must return that error (`?` on the read), and it answered \
         {outcome:?}. Only an answer of -2 means missing; a session check that takes a failing \
         Redis for an expired session logs everyone out whenever Redis has a hiccup"
    );
}
