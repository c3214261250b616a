//! The served API (as `lab serve` builds it, `lab::startup`) when its
//! servers fail: every promised 503 comes quickly and as JSON, and it
//! answers again as soon as the server is back; and the cache's invalidation
//! outbox, which must not keep records MongoDB failed to remove.

mod common;

use std::time::{Duration, Instant};

use axum::http::Method;
use axum::http::StatusCode;
use common::{call_with, get};
use lab::Config;
use lab::config::ApiKey;
use lab::testing::TestEnv;

fn config_for(env: &TestEnv, mongodb_uri: &str, name: &str) -> Config {
    let home = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    Config {
        redis_url: Some(env.redis_url().to_owned()),
        mongodb_uri: Some(mongodb_uri.to_owned()),
        database: "faults".to_owned(),
        api_key: Some(ApiKey::parse("f".repeat(32)).unwrap()),
        ..Config::for_home(home, Vec::new())
    }
}

#[tokio::test]
async fn with_mongodb_killed_reads_answer_503_in_about_a_second_and_recover() {
    let Some((server, dir)) = lab::testing::killable_mongodb().await else {
        eprintln!("MONGODB_URI names the server; the lab does not kill servers it did not start");
        return;
    };
    let env = TestEnv::start().await;
    let config = config_for(&env, server.url(), "mongodb-killed");
    let port = server.port();
    let state = lab::startup::api_state(&config).await.unwrap();
    assert_eq!(
        get(&state, "/customers?limit=1").await.status,
        StatusCode::OK
    );

    let pid = nix::unistd::Pid::from_raw(server.pid().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(server);
    let mut slowest = Duration::ZERO;
    for path in [
        "/customers?limit=1",
        "/customers/0123456789abcdef01234567",
        "/invoices/0123456789abcdef01234567",
    ] {
        let started = Instant::now();
        let answer = get(&state, path).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            answer.body
        );
        assert_eq!(
            answer.body["error"], "the database is unavailable; try again shortly",
            "{path}"
        );
    }
    // Reported, not asserted: a timing depends on the machine's load.
    eprintln!(
        "slowest 503 with MongoDB down: {:.2} s (the API waits {:?})",
        slowest.as_secs_f64(),
        lab::api::DATABASE_WAIT
    );

    let restarted = lab::testing::restart_mongodb_on(&dir, port).await;
    let mut recovered = false;
    for _ in 0..50 {
        if get(&state, "/customers?limit=1").await.status == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the API answers again once MongoDB is back");
    drop(restarted);
}

#[tokio::test]
async fn with_redis_down_at_start_the_api_serves_mongodb_and_takes_redis_back_when_it_comes() {
    let env = TestEnv::start_seeded().await;
    let redis = lab::testing::stoppable_redis().await;
    let (url, port) = (redis.url().to_owned(), redis.port());
    redis.stop();
    let config = Config {
        redis_url: Some(url),
        database: env.database().name().to_owned(),
        ..config_for(&env, env.mongodb_uri(), "redis-down-at-start")
    };
    let state = lab::startup::api_state(&config)
        .await
        .expect("the API starts while Redis is down");

    let listed = get(&state, "/customers?limit=1").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let id = listed.body["customers"][0]["_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a customer in {}", listed.body))
        .to_owned();
    let one = get(&state, &format!("/customers/{id}")).await;
    assert_eq!(
        one.status,
        StatusCode::OK,
        "a customer is read from MongoDB while Redis is down: {}",
        one.body
    );
    let key = format!("Bearer {}", "f".repeat(32));
    let served = &state;
    let submit = || {
        let job = br#"{"kind": "invoice_status_summary"}"#.to_vec();
        let headers = [("authorization", key.as_str())];
        async move {
            call_with(
                served,
                Method::POST,
                "/jobs",
                &headers,
                Some(("application/json", job)),
            )
            .await
        }
    };
    let refused = submit().await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a job needs Redis: {}",
        refused.body
    );

    let _back = lab::testing::stoppable_redis_at(port).await;
    let mut accepted = None;
    for _ in 0..50 {
        let answer = submit().await;
        if answer.status == StatusCode::ACCEPTED {
            accepted = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        accepted.is_some(),
        "the API takes Redis back once it answers, without a restart"
    );
}

#[tokio::test]
async fn a_redis_that_refuses_the_password_stops_the_start() {
    let env = TestEnv::start().await;
    let redis = lab::testing::stoppable_redis().await;
    let config = Config {
        redis_url: Some(format!(
            "redis://:not-the-password@127.0.0.1:{}/",
            redis.port()
        )),
        database: env.database().name().to_owned(),
        ..config_for(&env, env.mongodb_uri(), "redis-refuses-at-start")
    };
    let Err(error) = lab::startup::api_state(&config).await else {
        panic!("a Redis that refuses the password is no Redis that may come later");
    };
    assert!(
        matches!(error, lab::startup::StartupError::Service(_)),
        "{error}"
    );
    assert!(
        !error.to_string().contains("not-the-password"),
        "the error does not show the password: {error}"
    );
}

#[tokio::test]
async fn an_outbox_record_whose_removal_failed_goes_with_the_next_batch() {
    use lab::cache::outbox::Outbox;
    let Some((server, dir)) = lab::testing::killable_mongodb().await else {
        eprintln!("MONGODB_URI names the server; the lab does not kill servers it did not start");
        return;
    };
    let port = server.port();
    let client =
        lab::services::connect_mongodb_with(server.url(), lab::services::Origin::Lab, |options| {
            options.server_selection_timeout = Some(Duration::from_millis(500));
        })
        .await
        .unwrap();
    let outbox = Outbox::new(&client.database("outbox"));
    let first = outbox.intend(bson::oid::ObjectId::new()).await.unwrap();
    let pid = nix::unistd::Pid::from_raw(server.pid().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(server);
    // MongoDB is gone: the record of the first write cannot be removed.
    outbox.done(&[first]).await;
    let restarted = lab::testing::restart_mongodb_on(&dir, port).await;
    let mut second = None;
    for _ in 0..50 {
        if let Ok(intention) = outbox.intend(bson::oid::ObjectId::new()).await {
            second = Some(intention);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = second.expect("the outbox takes records again once MongoDB is back");
    outbox.done(&[second]).await;
    let pending = outbox.pending().await.unwrap();
    assert!(
        pending.is_empty(),
        "the first record, whose removal failed while MongoDB was down, goes with the second's: \
         {pending:?} are left"
    );
    drop(restarted);
}
