//! The API as served on a socket: writes need the lab's key, requests must
//! name the lab's own host, and a cross-site form cannot change anything.
//! Requests are written by hand, byte for byte, as a browser or an attacker
//! would send them.

use bson::doc;
use lab::api::ApiState;
use lab::api::guard::Guard;
use lab::config::ApiKey;
use lab::jobs::{JobState, NewJob};
use lab::testing::TestEnv;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// A guarded API on a port of its own, stopped when dropped.
struct Served {
    port: u16,
    state: ApiState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn serve(env: &TestEnv) -> Served {
    lab::billing::collections::ensure_indexes(env.database())
        .await
        .unwrap();
    let key = ApiKey::parse(KEY.to_owned()).unwrap();
    let state = ApiState::new(env.database().clone(), env.redis().await)
        .with_guard(Guard::new(key, &["lab.example".to_owned()]));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(lab::api::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    Served {
        port,
        state,
        _stop: stop,
    }
}

/// The status, the lower-cased head and the body of the answer to `request`.
async fn exchange(port: u16, request: String) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head[9..12].parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// `method path` with `headers` (each "Name: value") and `body`.
fn request(method: &str, path: &str, headers: &[&str], body: &str) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    if !body.is_empty() {
        text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

fn error_of(body: &str) -> String {
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["error"].as_str().unwrap().to_owned()
}

const CUSTOMER: &str = r#"{"name":"Ada","email":"ada@example.com","phone":"555-0101","address":{"street":"1 Way","city":"Leeds","state":"NY","zip":"10001"}}"#;

async fn customers(env: &TestEnv) -> u64 {
    env.database()
        .collection::<bson::Document>("customers")
        .count_documents(doc! {})
        .await
        .unwrap()
}

#[tokio::test]
async fn writes_without_the_key_are_refused_with_401_and_change_nothing() {
    let env = TestEnv::start().await;
    let api = serve(&env).await;
    let json = "Content-Type: application/json";
    for authorization in [
        None,
        Some("Authorization: Bearer wrong-key-wrong-key-wrong-key!!"),
        Some("Authorization: Basic bGFiOmxhYg=="),
    ] {
        let headers: Vec<&str> = ["Host: 127.0.0.1", json]
            .into_iter()
            .chain(authorization)
            .collect();
        let (status, head, body) =
            exchange(api.port, request("POST", "/customers", &headers, CUSTOMER)).await;
        assert_eq!(status, 401, "{authorization:?}: {body}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(head.contains("www-authenticate: bearer"), "{head}");
        assert!(error_of(&body).contains("API key"), "{body}");
    }
    assert_eq!(customers(&env).await, 0, "a refused write wrote nothing");

    let with_key = format!("Authorization: Bearer {KEY}");
    let (status, _, body) = exchange(
        api.port,
        request(
            "POST",
            "/customers",
            &["Host: localhost:8000", json, &with_key],
            CUSTOMER,
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = exchange(
        api.port,
        request("GET", "/customers?limit=5", &["Host: [::1]:8000"], ""),
    )
    .await;
    assert_eq!(status, 200, "reads stay open: {body}");
}

#[tokio::test]
async fn a_cross_site_form_cannot_cancel_a_job() {
    let env = TestEnv::start().await;
    let api = serve(&env).await;
    let (id, _) = api
        .state
        .jobs
        .submit(&NewJob::new("invoice_status_summary", "{}"))
        .await
        .unwrap();
    // What a page on another site can make a browser send without asking:
    // a form post (no custom headers), with the page as Origin.
    let form = [
        "Host: 127.0.0.1:8000",
        "Origin: http://evil.example",
        "Content-Type: application/x-www-form-urlencoded",
    ];
    let (status, _, body) = exchange(
        api.port,
        request("POST", &format!("/jobs/{id}/cancel"), &form, "x=1"),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    // The preflight a page needs before it may add a header is not granted.
    let (_, head, _) = exchange(
        api.port,
        request(
            "OPTIONS",
            &format!("/jobs/{id}/cancel"),
            &[
                "Host: 127.0.0.1:8000",
                "Origin: http://evil.example",
                "Access-Control-Request-Method: POST",
                "Access-Control-Request-Headers: authorization",
            ],
            "",
        ),
    )
    .await;
    assert!(!head.contains("access-control-allow"), "{head}");
    let job = api.state.jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued, "the job was not cancelled");
}

#[tokio::test]
async fn requests_naming_another_host_are_refused_even_with_the_key() {
    let env = TestEnv::start().await;
    let api = serve(&env).await;
    let with_key = format!("Authorization: Bearer {KEY}");
    // DNS rebinding: a name the attacker controls now resolves to 127.0.0.1,
    // and the browser sends the page's name in Host.
    for host in [
        "Host: rebind.evil.example:8000",
        "Host: 127.0.0.1.evil.example",
        "Host: localhost.evil.example",
    ] {
        for (method, path, body) in [
            ("GET", "/customers?limit=1", ""),
            ("POST", "/customers", CUSTOMER),
        ] {
            let headers = [host, "Content-Type: application/json", with_key.as_str()];
            let (status, head, answer) =
                exchange(api.port, request(method, path, &headers, body)).await;
            assert_eq!(status, 421, "{host} {method}: {answer}");
            assert!(head.contains("content-type: application/json"), "{head}");
            assert!(
                error_of(&answer).contains("answers to localhost"),
                "{answer}"
            );
        }
    }
    let (status, _, _) = exchange(
        api.port,
        request("GET", "/health", &["Host: LAB.example:80"], ""),
    )
    .await;
    assert_eq!(status, 200, "a name from LAB_API_HOSTS is the lab's own");
    assert_eq!(customers(&env).await, 0);
}
