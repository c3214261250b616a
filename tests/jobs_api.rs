//! The job API through its router, with a worker running in the test:
//! submit, follow (long polling and Server-Sent Events, resumed), results,
//! cancellation, idempotency keys, listing, webhooks, and bad input.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::worker::BackgroundWorker;
use common::{Answer, call, call_with, get, raw, send};
use lab::api::ApiState;
use lab::jobs::webhooks::WebhookPolicy;
use lab::jobs::worker::WorkerOptions;
use lab::jobs::{Changes, JobId, JobQueue, NewJob};
use lab::testing::TestEnv;
use serde_json::{Value, json};

/// The API's state with drills on, woken by Redis's change messages.
async fn state_for(env: &TestEnv) -> ApiState {
    ApiState::new(env.database().clone(), env.redis().await)
        .with_changes(Changes::listen(env.redis_url(), lab::jobs::PREFIX).unwrap())
        .with_drills(true)
}

/// A worker with two slots on the test's services; stops when dropped.
fn start_worker(state: &ApiState) -> BackgroundWorker {
    let options = WorkerOptions {
        concurrency: 2,
        lease: Duration::from_secs(10),
        poll: Duration::from_millis(10),
        drills: true,
    };
    BackgroundWorker::start(&state.jobs, &state.db, options)
}

async fn submit(state: &ApiState, body: Value) -> Answer {
    send(state, Method::POST, "/jobs", body).await
}

/// Waits for job `id` to finish, through `?wait=`.
async fn finished(state: &ApiState, id: &str) -> Value {
    for _ in 0..10 {
        let job = get(state, &format!("/jobs/{id}?wait=30")).await;
        assert_eq!(job.status, StatusCode::OK);
        if ["succeeded", "failed", "cancelled"].contains(&job.body["state"].as_str().unwrap()) {
            return job.body;
        }
    }
    panic!("job {id} did not finish");
}

/// The events of an SSE body: (id, event name, data as JSON).
fn parse_sse(body: &[u8]) -> Vec<(String, String, Value)> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    text.split("\n\n")
        .filter(|block| block.lines().any(|line| line.starts_with("data:")))
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim_start().to_owned())
                    .unwrap_or_default()
            };
            (
                field("id:"),
                field("event:"),
                serde_json::from_str(&field("data:")).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_submitted_job_is_accepted_followed_and_its_result_read() {
    let env = TestEnv::start_seeded().await;
    let state = state_for(&env).await;
    let accepted = submit(
        &state,
        json!({"kind": "revenue_by_month", "params": {"from": "2024-11-01", "to": "2025-03-01"}}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        accepted.location.as_deref(),
        Some(format!("/jobs/{id}").as_str())
    );
    assert_eq!(accepted.body["state"], "queued");
    assert!(
        accepted.body.get("token").is_none(),
        "the fencing token is internal"
    );
    let _worker = start_worker(&state);

    let job = finished(&state, &id).await;
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 1);
    assert_eq!(
        job["progress"],
        json!({"done": 4, "total": 4, "note": "months"})
    );

    let result = get(&state, &format!("/jobs/{id}/result")).await;
    assert_eq!(result.status, StatusCode::OK);
    let direct = lab::analysis::monthly::by_month(
        env.database(),
        lab::analysis::monthly::DateRange::parse("2024-11-01", "2025-03-01").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        result.body["result"],
        serde_json::to_value(&direct).unwrap()
    );

    // The whole story as Server-Sent Events: queued, running, one progress
    // report per month (and the start), succeeded; then the stream ends.
    let (status, headers, body) = raw(
        &state,
        Method::GET,
        &format!("/jobs/{id}/events"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = parse_sse(&body);
    let names: Vec<&str> = events.iter().map(|(_, name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "state", "state", "progress", "progress", "progress", "progress", "progress", "state"
        ]
    );
    let states: Vec<&Value> = events
        .iter()
        .filter(|(_, name, _)| name == "state")
        .map(|(_, _, data)| &data["state"])
        .collect();
    assert_eq!(states, ["queued", "running", "succeeded"]);
    assert_eq!(events[6].2["done"], 4);

    // Resuming after the first progress report sends only what followed.
    let (_, _, body) = raw(
        &state,
        Method::GET,
        &format!("/jobs/{id}/events"),
        &[("last-event-id", &events[2].0)],
        None,
    )
    .await;
    let resumed: Vec<String> = parse_sse(&body).into_iter().map(|(id, _, _)| id).collect();
    let rest: Vec<String> = events[3..].iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(resumed, rest);
}

#[tokio::test]
async fn events_arrive_while_the_job_runs() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let accepted = submit(&state, json!({"kind": "sleep", "params": {"ms": 200}})).await;
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    // The stream is opened before any worker runs: it must wait for the
    // events rather than end.
    let follow = {
        let state = state.clone();
        let path = format!("/jobs/{id}/events");
        tokio::spawn(async move { raw(&state, Method::GET, &path, &[], None).await })
    };
    let _worker = start_worker(&state);
    let (status, _, body) = follow.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let events = parse_sse(&body);
    let progress = events
        .iter()
        .filter(|(_, name, _)| name == "progress")
        .count();
    assert_eq!(progress, 10, "ten steps of the sleep drill");
    assert_eq!(events.last().unwrap().2["state"], "succeeded");
}

#[tokio::test]
async fn one_idempotency_key_gives_one_job_and_refuses_a_different_request() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let body = serde_json::to_vec(&json!({"kind": "top_customers", "params": {"n": 3}})).unwrap();
    let post = |body: Vec<u8>, key: &'static str| {
        let state = state.clone();
        async move {
            call_with(
                &state,
                Method::POST,
                "/jobs",
                &[("idempotency-key", key)],
                Some(("application/json", body)),
            )
            .await
        }
    };
    let answers =
        futures_util::future::join_all((0..20).map(|_| post(body.clone(), "order-7"))).await;
    let first = &answers[0].body["id"];
    assert!(
        answers
            .iter()
            .all(|answer| answer.status == StatusCode::ACCEPTED)
    );
    assert!(answers.iter().all(|answer| &answer.body["id"] == first));
    let replayed = answers
        .iter()
        .filter(|answer| answer.headers.contains_key("idempotent-replayed"))
        .count();
    assert_eq!(replayed, 19, "all but the first are replays");
    let listed = get(&state, "/jobs").await;
    assert_eq!(listed.body["jobs"].as_array().unwrap().len(), 1);

    // The same parameters written in another order are the same request.
    let first = br#"{"kind": "overdue_invoices", "params": {"as_of": "2025-12-01", "limit": 5}}"#;
    let reordered =
        br#"{"params": {"limit": 5, "as_of": "2025-12-01"}, "kind": "overdue_invoices"}"#;
    let original = post(first.to_vec(), "order-8").await;
    let repeated = post(reordered.to_vec(), "order-8").await;
    assert_eq!(repeated.status, StatusCode::ACCEPTED, "{}", repeated.body);
    assert_eq!(original.body["id"], repeated.body["id"]);

    let other = serde_json::to_vec(&json!({"kind": "top_customers", "params": {"n": 4}})).unwrap();
    let conflict = post(other, "order-7").await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(
        conflict.body["error"]
            .as_str()
            .unwrap()
            .contains("different request")
    );
    // The same analysis with other attempts is another request too.
    let more_attempts =
        br#"{"kind": "overdue_invoices", "params": {"as_of": "2025-12-01", "limit": 5}, "max_attempts": 9}"#;
    let conflict = post(more_attempts.to_vec(), "order-8").await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);
}

#[tokio::test]
async fn results_wait_for_success_and_cancelling_follows_the_states() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let queued = submit(&state, json!({"kind": "invoice_status_summary"})).await;
    let id = queued.body["id"].as_str().unwrap().to_owned();
    let early = get(&state, &format!("/jobs/{id}/result")).await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(early.body["error"].as_str().unwrap().contains("is queued"));

    let cancelled = call(&state, Method::POST, &format!("/jobs/{id}/cancel"), None).await;
    assert_eq!(
        (cancelled.status, &cancelled.body["state"]),
        (StatusCode::OK, &json!("cancelled"))
    );
    let again = call(&state, Method::POST, &format!("/jobs/{id}/cancel"), None).await;
    assert_eq!(again.status, StatusCode::OK, "cancelling twice is harmless");
    assert_eq!(
        get(&state, &format!("/jobs/{id}/result")).await.status,
        StatusCode::CONFLICT
    );

    let _worker = start_worker(&state);
    let done = submit(&state, json!({"kind": "invoice_status_summary"})).await;
    let done_id = done.body["id"].as_str().unwrap().to_owned();
    assert_eq!(finished(&state, &done_id).await["state"], "succeeded");
    let late = call(
        &state,
        Method::POST,
        &format!("/jobs/{done_id}/cancel"),
        None,
    )
    .await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert!(
        late.body["error"]
            .as_str()
            .unwrap()
            .contains("already succeeded")
    );
    let result = get(&state, &format!("/jobs/{done_id}/result")).await;
    assert_eq!(result.status, StatusCode::OK);
    assert!(result.body["result"].is_array());
}

#[tokio::test]
async fn jobs_are_listed_newest_first_by_state_a_page_at_a_time() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        let accepted = submit(&state, json!({"kind": "top_customers", "params": {"n": n}})).await;
        ids.push(accepted.body["id"].as_str().unwrap().to_owned());
    }
    call(
        &state,
        Method::POST,
        &format!("/jobs/{}/cancel", ids[1]),
        None,
    )
    .await;
    let first = get(&state, "/jobs?limit=3").await;
    let page: Vec<&str> = first.body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_str().unwrap())
        .collect();
    assert_eq!(page, [&ids[4], &ids[3], &ids[2]]);
    let next = first.body["next"].as_str().unwrap();
    let second = get(&state, &format!("/jobs?limit=3&after={next}")).await;
    assert_eq!(second.body["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(second.body["next"], Value::Null);
    let queued = get(&state, "/jobs?state=queued").await;
    assert_eq!(queued.body["jobs"].as_array().unwrap().len(), 4);
    let cancelled = get(&state, "/jobs?state=cancelled").await;
    assert_eq!(cancelled.body["jobs"][0]["id"], json!(ids[1]));
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_make_no_job() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await.with_drills(false);
    let known = submit(&state, json!({"kind": "invoice_status_summary"})).await;
    let id = known.body["id"].as_str().unwrap().to_owned();
    let unknown = "64b0000000000000000000ff";
    let bodies = [
        (json!({"kind": "mine_bitcoin"}), "kind"),
        (json!({"kind": "top_customers", "params": {"n": 0}}), "n"),
        (json!({"kind": "top_customers", "params": [1]}), "params"),
        (
            json!({"kind": "top_customers", "params": {"n": 3, "$where": "1"}}),
            "params",
        ),
        (
            json!({"kind": "revenue_by_month", "params": {"from": "2025-02-01", "to": "2025-01-01"}}),
            "to",
        ),
        (
            json!({"kind": "invoice_status_summary", "max_attempts": 0}),
            "max_attempts",
        ),
        (
            json!({"kind": "invoice_status_summary", "max_attempts": 11}),
            "max_attempts",
        ),
        (
            json!({"kind": "invoice_status_summary", "webhook": "https://example.com/"}),
            "webhook",
        ),
        (
            json!({"kind": "invoice_status_summary", "priority": 1}),
            "priority",
        ),
        (json!({"kind": "sleep", "params": {"ms": 10}}), "kind"),
        (json!({"params": {}}), "body"),
    ];
    for (body, field) in bodies {
        let answer = submit(&state, body.clone()).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer.body["field"], field, "{body}: {}", answer.body);
    }
    type Case<'a> = (Method, String, &'a [(&'a str, &'a str)], StatusCode);
    let requests: [Case; 11] = [
        (
            Method::GET,
            format!("/jobs/{unknown}"),
            &[],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/jobs/nope".into(),
            &[],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/jobs/{id}?wait=31"),
            &[],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/jobs/{id}?wait=soon"),
            &[],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/jobs?state=done".into(),
            &[],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/jobs?limit=0".into(),
            &[],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("/jobs/{unknown}/result"),
            &[],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            format!("/jobs/{unknown}/cancel"),
            &[],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/jobs/{unknown}/events"),
            &[],
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("/jobs/{id}/events"),
            &[("last-event-id", "yesterday")],
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::DELETE,
            format!("/jobs/{id}"),
            &[],
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (method, path, headers, expected) in requests {
        let answer = call_with(&state, method.clone(), &path, headers, None).await;
        assert_eq!(answer.status, expected, "{method} {path}: {}", answer.body);
        assert!(answer.body["error"].is_string());
    }
    let bad_key = call_with(
        &state,
        Method::POST,
        "/jobs",
        &[("idempotency-key", "")],
        Some((
            "application/json",
            br#"{"kind": "invoice_status_summary"}"#.to_vec(),
        )),
    )
    .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
    let two_keys = call_with(
        &state,
        Method::POST,
        "/jobs",
        &[("idempotency-key", "first"), ("idempotency-key", "second")],
        Some((
            "application/json",
            br#"{"kind": "invoice_status_summary"}"#.to_vec(),
        )),
    )
    .await;
    assert_eq!(
        (two_keys.status, two_keys.body["error"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("send one Idempotency-Key header, not several")
        )
    );
    let listed = get(&state, "/jobs").await;
    assert_eq!(
        listed.body["jobs"].as_array().unwrap().len(),
        1,
        "only the good job"
    );
}

#[tokio::test]
async fn a_malformed_job_id_gets_a_400_json_error_on_every_job_route() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let generated = lab::jobs::JobId::generate();
    let too_long = format!("{generated}0");
    let too_short = &generated.as_str()[..23];
    let not_hex = format!("{}g", &generated.as_str()[..23]);
    for id in [
        too_long.as_str(),
        too_short,
        not_hex.as_str(),
        "job-1",
        "%20",
    ] {
        for (method, path) in [
            (Method::GET, format!("/jobs/{id}")),
            (Method::GET, format!("/jobs/{id}?wait=1")),
            (Method::GET, format!("/jobs/{id}/result")),
            (Method::POST, format!("/jobs/{id}/cancel")),
            (Method::GET, format!("/jobs/{id}/events")),
            (Method::GET, format!("/jobs?after={id}")),
        ] {
            let answer = call(&state, method.clone(), &path, None).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{method} {path}: {}",
                answer.body
            );
            let error = answer.body["error"].as_str().unwrap_or_default();
            assert!(
                error.contains("is not a valid id") && error.contains("24 hexadecimal digits"),
                "{method} {path}: the error says what an id looks like: {error:?}"
            );
        }
    }
    // A well-formed id that names no job is another matter: 404.
    let unknown = get(&state, &format!("/jobs/{generated}")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    // Upper-case digits name the same job, as before ids were typed.
    let known = submit(&state, json!({"kind": "invoice_status_summary"})).await;
    let id = known.body["id"].as_str().unwrap();
    let shouted = get(&state, &format!("/jobs/{}", id.to_ascii_uppercase())).await;
    assert_eq!(shouted.status, StatusCode::OK, "{}", shouted.body);
    assert_eq!(shouted.body["id"], id, "shown in its stored form");
}

/// A webhook receiver on a local port: answers 500 to the first call and
/// 204 afterwards, and hands over each body it got.
async fn flaky_receiver() -> (u16, tokio::sync::mpsc::UnboundedReceiver<Value>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, bodies) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        for call in 0.. {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            // Headers, then the body by its Content-Length.
            let body = loop {
                let read = socket.read(&mut buffer).await.unwrap();
                request.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("Content-Length: "))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length || read == 0 {
                        break body.to_owned();
                    }
                }
            };
            let _ = sender.send(serde_json::from_str(&body).unwrap_or(Value::Null));
            let answer: &[u8] = if call == 0 {
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
            } else {
                b"HTTP/1.1 204 No Content\r\n\r\n"
            };
            socket.write_all(answer).await.unwrap();
        }
    });
    (port, bodies)
}

#[tokio::test]
async fn a_webhook_is_retried_until_delivered_and_each_attempt_is_an_event() {
    let env = TestEnv::start().await;
    let (port, mut bodies) = flaky_receiver().await;
    let allowed = WebhookPolicy::allowing(&[format!("127.0.0.1:{port}")]).unwrap();
    let mut state = state_for(&env).await;
    state.jobs = state.jobs.clone().with_webhook_policy(allowed);
    let accepted = submit(
        &state,
        json!({"kind": "invoice_status_summary", "webhook": format!("http://127.0.0.1:{port}/done")}),
    )
    .await;
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let _worker = start_worker(&state);
    let first = bodies.recv().await.unwrap();
    let second = bodies.recv().await.unwrap();
    assert_eq!(first, second, "the same call again");
    assert_eq!(
        (first["id"].as_str(), first["state"].as_str()),
        (Some(id.as_str()), Some("succeeded"))
    );
    let queue: &JobQueue = &state.jobs;
    let id: JobId = id.parse().unwrap();
    let webhook_events = loop {
        let events: Vec<_> = queue
            .events(&id, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|event| event.data.name() == "webhook")
            .map(|event| serde_json::to_value(&event.data).unwrap())
            .collect();
        if events.len() == 2 {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(webhook_events[0]["webhook"], "retrying");
    assert_eq!(webhook_events[0]["note"], "HTTP 500");
    assert_eq!(webhook_events[1]["webhook"], "delivered");
    let job = get(&state, &format!("/jobs/{id}")).await;
    assert_eq!(job.body["webhook"]["state"], "delivered");
    assert_eq!(
        job.body["webhook"]["url"],
        format!("http://127.0.0.1:{port}/…"),
        "reads need no key, so the webhook's path (where receivers keep secrets) is not shown"
    );
}

#[tokio::test]
async fn webhooks_to_the_labs_own_services_and_private_addresses_are_refused_at_submit() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let redis_port = env
        .redis_url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/');
    for url in [
        format!("http://127.0.0.1:{redis_port}/"),
        "http://localhost:8000/jobs/x/cancel".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "http://0.0.0.0:8000/".to_owned(),
    ] {
        let refused = submit(
            &state,
            json!({"kind": "invoice_status_summary", "webhook": url}),
        )
        .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            refused.body
        );
        assert_eq!(refused.body["field"], "webhook", "{url}");
        assert!(
            refused.body["error"]
                .as_str()
                .unwrap()
                .contains("LAB_WEBHOOK_ALLOW"),
            "{url}: the refusal says how to allow a local receiver: {}",
            refused.body
        );
    }
    let queue: &JobQueue = &state.jobs;
    assert!(
        queue.list(None, None, 10).await.unwrap().is_empty(),
        "a refused job is not queued"
    );
}

#[tokio::test]
async fn a_webhook_whose_name_resolves_to_a_local_address_is_never_called() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    // Straight onto the queue, as a name that passed the submit check and
    // resolves to loopback only at delivery would be.
    let job = NewJob::new("invoice_status_summary", "{}")
        .webhook(format!("http://localhost:{port}/hook"));
    let (id, _) = state.jobs.submit(&job).await.unwrap();
    let _worker = start_worker(&state);
    let event = loop {
        let events: Vec<Value> = state
            .jobs
            .events(&id, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|event| event.data.name() == "webhook")
            .map(|event| serde_json::to_value(&event.data).unwrap())
            .collect();
        if let Some(event) = events.into_iter().next() {
            break event;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        event["webhook"], "abandoned",
        "a refused address is not retried: {event}"
    );
    assert!(
        event["note"].as_str().unwrap().starts_with("refused"),
        "the event says why: {event}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "no connection was made");
}

#[tokio::test]
async fn with_redis_paused_the_job_routes_answer_503_from_the_queue_deadline() {
    use nix::sys::signal::{Signal, kill};
    let env = TestEnv::start().await;
    let server = lab::testing::stoppable_redis().await;
    let redis = lab::services::connect_redis(server.url(), lab::services::Origin::Lab)
        .await
        .unwrap();
    let state = ApiState::new(env.database().clone(), redis);
    let accepted = submit(&state, json!({"kind": "invoice_status_summary"})).await;
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    let pid = nix::unistd::Pid::from_raw(server.pid().unwrap() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    for path in [
        "/jobs".to_owned(),
        format!("/jobs/{id}"),
        format!("/jobs/{id}/result"),
    ] {
        // The queue's own deadline answers, not the request timeout (10 s,
        // or 40 s for a job), which is what a paused Redis used to reach.
        let answer = get(&state, &path).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            answer.body
        );
        assert_eq!(
            answer.body["error"], "the job queue is unavailable; try again shortly",
            "{path}"
        );
    }
    // A submission whose answer does not come may still reach Redis: the
    // client is told where to look before submitting again.
    let unsure = submit(&state, json!({"kind": "invoice_status_summary"})).await;
    assert_eq!(
        unsure.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        unsure.body
    );
    let location = unsure.body["location"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        location.starts_with("/jobs/")
            && unsure.body["error"]
                .as_str()
                .unwrap()
                .contains("may still have been made"),
        "{}",
        unsure.body
    );
    kill(pid, Signal::SIGCONT).unwrap();
    assert_eq!(
        get(&state, "/jobs").await.status,
        StatusCode::OK,
        "back once Redis is"
    );
    let arrived = get(&state, &location).await;
    assert_eq!(
        arrived.status,
        StatusCode::OK,
        "the submission reached Redis after all, under the id the 503 named: {}",
        arrived.body
    );
}
