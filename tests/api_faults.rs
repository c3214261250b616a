//! The served API (as `lab serve` builds it, `lab::startup`) when its
//! servers fail: every promised 503 comes quickly and as JSON, and it
//! answers again as soon as the server is back.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::get;
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
