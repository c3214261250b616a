//! `lab::startup`: the API and a worker built from a configuration, on ports
//! the system picks, reported, answering, and stopping when told.

use lab::Config;
use lab::config::ApiKey;
use lab::jobs::worker::WorkerOptions;
use lab::startup::{Application, StartupError, WorkerProcess};
use lab::testing::TestEnv;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config_for(env: &TestEnv, name: &str) -> Config {
    let home = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("startup-{name}-{}", std::process::id()));
    Config {
        redis_url: Some(env.redis_url().to_owned()),
        mongodb_uri: Some(env.mongodb_uri().to_owned()),
        database: env.database().name().to_owned(),
        api_key: Some(ApiKey::parse("s".repeat(32)).unwrap()),
        ..Config::for_home(home, Vec::new())
    }
}

async fn get(port: u16, path: &str) -> String {
    exchange(port, "GET", path, "localhost").await
}

/// Sends `method path` naming `host`, and reads the whole answer.
async fn exchange(port: u16, method: &str, path: &str, host: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn the_api_binds_a_free_port_reports_it_and_stops_when_told() {
    let env = TestEnv::start().await;
    let app = Application::build(&config_for(&env, "api"), 0)
        .await
        .unwrap();
    let port = app.port();
    assert_ne!(port, 0, "the real port is reported");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let answer = get(port, "/health").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_taken_port_is_named_with_what_to_do() {
    let env = TestEnv::start().await;
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let error = Application::build(&config_for(&env, "taken"), port)
        .await
        .unwrap_err();
    assert!(matches!(error, StartupError::Bind { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("LAB_API_PORT"),
        "{message}"
    );
}

#[tokio::test]
async fn a_worker_reports_its_status_port_and_answers_there_until_stopped() {
    let env = TestEnv::start().await;
    let options = WorkerOptions {
        concurrency: 2,
        ..Default::default()
    };
    let worker = WorkerProcess::build(&config_for(&env, "worker"), options, Some(0))
        .await
        .unwrap();
    let port = worker.status_port().expect("a status port was asked for");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    let answer = get(port, "/").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""concurrency":2"#), "{answer}");
    let elsewhere = get(port, "/nowhere").await;
    assert!(elsewhere.starts_with("HTTP/1.1 404"), "{elsewhere}");
    assert!(
        elsewhere.ends_with(r#"{"error":"no route for GET /nowhere"}"#),
        "{elsewhere}"
    );
    let posted = exchange(port, "POST", "/", "localhost").await;
    assert!(
        posted.starts_with("HTTP/1.1 405") && posted.contains("application/json"),
        "{posted}"
    );
    let rebound = exchange(port, "GET", "/", "evil.example").await;
    assert!(rebound.starts_with("HTTP/1.1 421"), "{rebound}");
    stop.send(()).unwrap();
    let report = running.await.unwrap();
    assert_eq!(report.succeeded + report.failed, 0, "no job was queued");
}
