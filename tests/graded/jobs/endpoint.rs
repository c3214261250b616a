//! Graded tests of the job endpoint exercise, shared by `exercises` and
//! `solutions`: the router called without a socket and every answer read
//! the way a client reads it (`lab::testing::http`: status, `Content-Type`,
//! `Location`, a JSON `{"error": ...}` on every refusal), the lab's own
//! worker step doing the jobs.
//!
//! The technique is the lesson's: a long report is not run in the request;
//! `POST /reports` queues a job and answers 202 Accepted with a `Location`,
//! and the result is a 409 until the job has succeeded.

use std::time::Duration;

use super::endpoint::*;
use lab::jobs::worker::{self, Step, WorkerOptions};
use lab::jobs::{JobId, JobQueue, JobState, results};
use lab::services::{Origin, connect_redis};
use lab::testing::http::{Reply, send};
use lab::testing::{TestEnv, inspect, stoppable_redis};
use serde_json::{Value, json};

async fn reports(env: &TestEnv) -> Reports {
    Reports {
        queue: JobQueue::new(env.redis().await, lab::jobs::PREFIX),
        database: env.database().clone(),
    }
}

/// Sends `method path` to a router over `reports`, with `body` as JSON.
async fn call(reports: &Reports, method: &str, path: &str, body: Option<Value>) -> Reply {
    send(router(reports.clone()), method, path, body).await
}

/// Like [`call`], on a task of its own, so that a handler that panics is
/// reported as a wrong answer (`when` says in which circumstances).
async fn call_guarded(
    reports: &Reports,
    method: &str,
    path: &str,
    body: Option<Value>,
    when: &str,
) -> Reply {
    let router = router(reports.clone());
    let (method, path) = (method.to_owned(), path.to_owned());
    let request = format!("{method} {path}");
    let task = tokio::spawn(async move { send(router, &method, &path, body).await });
    task.await.unwrap_or_else(|error| {
        panic!(
            "{request} panicked {when} ({error}): a handler answers every failure, it never \
             panics; a job queue that cannot be reached is a 503 with a JSON error \
             (`.map_err(unavailable)?`), not an `unwrap`"
        )
    })
}

/// `POST /reports` with `body`, checked as far as the test needs it: the
/// id of the job it queued.
async fn submit(reports: &Reports, body: Value) -> JobId {
    let reply = call(reports, "POST", "/reports", Some(body)).await;
    reply.expect_status(
        202,
        "a report is not computed in the request: POST /reports queues a job and answers \
         202 Accepted at once",
    );
    let body = reply.json("the accepted report");
    body["id"].as_str().and_then(|id| id.parse().ok()).unwrap_or_else(|| {
        panic!(
            "the 202 answer of POST /reports must be {{\"id\", \"state\": \"queued\"}} with the \
             id of the queued job (as `reports.queue.submit` gave it), got {body}"
        )
    })
}

async fn run_one(reports: &Reports) -> Step {
    let options = WorkerOptions {
        lease: Duration::from_secs(30),
        ..Default::default()
    };
    worker::step(&reports.queue, &reports.database, &options)
        .await
        .unwrap()
}

/// Checks that `reply`, the answer of `request` for a report the queue
/// does not know, is the table's 404, `{"error": "Report not found"}`
/// (`what` says what is expected, as for [`Reply::expect_error`]).
fn expect_report_not_found(reply: &Reply, request: &str, what: &str) {
    let message = reply.expect_error(404, what);
    assert_eq!(
        message, "Report not found",
        "{request} answered a report the queue does not know with 404 {{\"error\": {message:?}}}: \
         the table fixes the 404's message for both routes (\"404 as above\"), {{\"error\": \
         \"Report not found\"}}, which a client recognises the 404 by; answer \
         `error(StatusCode::NOT_FOUND, \"Report not found\")`"
    );
}

/// The answer for a snapshot (`Reply::snapshot`), with the
/// job's id written `[id]` wherever it appears (body and `Location`), and
/// the error message of any refusal but a 404 (whose message the table
/// fixes) written `[message]`, since its words are the student's.
fn snapshot_of(reply: &Reply, id: &str) -> Value {
    let mut value = reply.snapshot();
    if reply.status.as_u16() != 404 && value["body"]["error"].is_string() {
        value["body"]["error"] = Value::from("[message]");
    }
    let text = value.to_string();
    let text = if id.is_empty() {
        text
    } else {
        text.replace(id, "[id]")
    };
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_report_request_is_accepted_with_its_location() {
    let env = TestEnv::start_seeded().await;
    let reports = reports(&env).await;
    let recording = env.record_mongo();
    let reply = call(&reports, "POST", "/reports", Some(json!({}))).await;
    let sent = recording.finish();
    reply.expect_status(
        202,
        "a report is not computed in the request: POST /reports queues a job and answers \
         202 Accepted at once, not 200 (the work is accepted, not done); return \
         `(StatusCode::ACCEPTED, ...)`",
    );
    let body = reply.json("the accepted report");
    let Some(id) = body["id"].as_str().and_then(|id| id.parse::<JobId>().ok()) else {
        panic!(
            "the 202 answer of POST /reports must be {{\"id\", \"state\": \"queued\"}} with the id \
             of the queued job, got {body}"
        );
    };
    assert_eq!(
        reply.location(),
        Some(format!("/reports/{id}").as_str()),
        "a 202 answer says where the client can follow the job: its `Location` header must be \
         `/reports/{{id}}`; add `[(header::LOCATION, format!(\"/reports/{{id}}\"))]` to the answer"
    );
    assert_eq!(
        body["state"], "queued",
        "a report just accepted is queued: the 202 body is {{\"id\", \"state\": \"queued\"}}"
    );
    assert!(
        !sent.used("aggregate"),
        "POST /reports ran the report inside the request (it sent {} to MongoDB): a long job is \
         not run in the request; submit a job with `reports.queue.submit` and answer 202 at once, \
         a worker runs it later",
        sent.listing()
    );
    let job = reports.queue.get(&id).await.unwrap().unwrap_or_else(|| {
        panic!(
            "the id answered, {id}, is no job of the queue: submit the job with \
             `reports.queue.submit` and answer the id it gives"
        )
    });
    assert_eq!(
        job.kind, "revenue_by_customer",
        "a report is a job of kind `revenue_by_customer`"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&job.params).ok(),
        Some(json!({})),
        "a report of every customer is a job whose params are `{{}}`: the request body as JSON \
         text, got {:?}",
        job.params
    );
    assert_eq!(
        job.state,
        JobState::Queued,
        "POST /reports only queues the job; a worker runs it later"
    );
    assert_eq!(
        reports.queue.list(None, None, 10).await.unwrap().len(),
        1,
        "one request queues one job"
    );
    lab::graded_snapshot!(
        "jobs_endpoint_accepted",
        snapshot_of(&reply, id.as_str()),
        "POST /reports must answer 202 with `Content-Type: application/json`, \
         `Location: /reports/{id}` and the body {\"id\", \"state\": \"queued\"}"
    );

    // A customer id in capitals: the same 24 hexadecimal digits.
    let shouted = "64B0000000000000000000AA";
    let reply = call(
        &reports,
        "POST",
        "/reports",
        Some(json!({"customer_id": shouted})),
    )
    .await;
    reply.expect_status(
        202,
        "`64B0000000000000000000AA` is 24 hexadecimal digits (A to F count in either case, as \
         `ObjectId::parse_str` reads them): a report of that customer is accepted; check with \
         `is_ascii_hexdigit`, not a list of lower-case digits",
    );

    // A body with more than the table's fields: whatever is done with
    // them, they must not reach the job unchecked.
    let customer = "64b0000000000000000000aa";
    let extra = json!({"customer_id": customer, "limit": 1_000_000_000, "x": [1, 2]});
    let reply = call(&reports, "POST", "/reports", Some(extra.clone())).await;
    if reply.status.as_u16() == 422 {
        reply.expect_error(422, "a report request with fields a report does not take");
        return;
    }
    reply.expect_status(
        202,
        "a report request with fields a report does not take is either queued with the \
         report's own params, or refused with 422",
    );
    let queued = reply
        .json("the accepted report")
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<JobId>().ok());
    let params = match &queued {
        Some(id) => reports.queue.get(id).await.unwrap().map(|job| job.params),
        None => None,
    };
    assert_eq!(
        params
            .as_deref()
            .and_then(|params| serde_json::from_str::<Value>(params).ok()),
        Some(json!({"customer_id": customer})),
        "POST /reports with the body {extra} queued a job whose params are {params:?}: the \
         params are the report's request as the table has it, `{{}}` or `{{\"customer_id\"}}`, \
         built from the checked `ReportRequest`. Copying the body queues fields nobody checked, \
         and the worker, which refuses unknown params, fails the job the client was told is \
         accepted"
    );
}

#[tokio::test]
async fn a_report_can_be_followed_and_its_result_read_once_done() {
    let env = TestEnv::start_seeded().await;
    let reports = reports(&env).await;
    let customer = lab::billing::collections::customers(env.database())
        .find_one(lab::bson::doc! {})
        .await
        .unwrap()
        .unwrap()
        .id
        .to_hex();
    let id = submit(&reports, json!({"customer_id": customer})).await;
    let job = reports.queue.get(&id).await.unwrap().unwrap_or_else(|| {
        panic!("the id answered, {id}, is no job of the queue: answer the id `submit` gives")
    });
    assert_eq!(
        serde_json::from_str::<Value>(&job.params).ok(),
        Some(json!({"customer_id": customer})),
        "a report of one customer is a job whose params are `{{\"customer_id\": ...}}`, the \
         request body as JSON text, got {:?}",
        job.params
    );
    let mut replies = Vec::new();

    let reply = call(&reports, "GET", &format!("/reports/{id}"), None).await;
    reply.expect_status(200, "following a report that exists");
    let body = reply.json("the report's state");
    assert_eq!(
        (&body["id"], &body["state"]),
        (&json!(id), &json!("queued")),
        "GET /reports/{{id}} answers {{\"id\", \"state\"}} from `reports.queue.get`; a report no \
         worker has run yet is queued"
    );
    replies.push(snapshot_of(&reply, id.as_str()));

    let reply = call(&reports, "GET", &format!("/reports/{id}/result"), None).await;
    reply.expect_error(
        409,
        "a report that has not succeeded has no result yet: GET /reports/{id}/result must \
         answer 409 Conflict with {\"error\", \"state\"} until the job has succeeded, not a 200 \
         with an empty result",
    );
    assert_eq!(
        reply.json("the 409 answer")["state"],
        "queued",
        "the 409 answer says where the job stands: {{\"error\", \"state\": job.state}}"
    );
    replies.push(snapshot_of(&reply, id.as_str()));

    // A run that could not reach MongoDB hands the job back to run again a
    // moment later: the job waits to be retried, a state of its own.
    let postponed = reports
        .queue
        .claim(Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the report's job is ready");
    reports
        .queue
        .postpone(
            &postponed,
            "MongoDB could not be reached",
            Duration::from_millis(1),
        )
        .await
        .unwrap();
    let reply = call(&reports, "GET", &format!("/reports/{id}"), None).await;
    reply.expect_status(200, "following a report whose job waits to be retried");
    let state = reply.json("the report's state")["state"].clone();
    assert_eq!(
        state, "waiting_retry",
        "a job that waits to be retried is `\"state\": \"waiting_retry\"`, the name the queue \
         and the rest of the API give it; GET /reports/{{id}} answered {state}. Put `job.state` \
         in the JSON as it is (it serializes to its name); a name built from its Debug text \
         (`format!(\"{{:?}}\")`) spells it differently"
    );
    // The job is ready again once its 1 ms wait is over.
    tokio::time::sleep(Duration::from_millis(10)).await;

    // A first run stalls: its lease runs out, the job is queued again, and
    // the stalled run saves its result late, under its own fencing token.
    // Saved as the lab's worker saves (`_id` "{job id}:{token}"), it comes
    // before the completing run's in any order a lookup by job id may use.
    let stalled = reports
        .queue
        .claim(Duration::ZERO)
        .await
        .unwrap()
        .expect("the report's job is ready");
    while reports.queue.reap().await.unwrap() == 0 {
        tokio::task::yield_now().await;
    }
    let reaped = reports
        .queue
        .get(&id)
        .await
        .unwrap()
        .expect("the report's job is kept");
    assert_ne!(
        reaped.state,
        JobState::Failed,
        "the report's first run was lost (its worker stalled past its lease), and the queue gave \
         the job up instead of running it again: it was submitted with {} attempts. A lost run \
         is what retries are for: keep the queue's default number of attempts \
         (`NewJob::new(kind, params)` as it is), or allow several",
        reaped.max_attempts
    );
    let late = json!([{"customer_id": customer, "total_revenue": 0, "invoices": 0}]);
    results::save_many(&reports.database, &[(&stalled, &late)])
        .await
        .unwrap();

    assert_eq!(
        run_one(&reports).await,
        Step::Succeeded(id.clone()),
        "the job POST /reports queued must be one a worker can run: kind `revenue_by_customer` \
         with the request's `customer_id` as params"
    );

    let reply = call(&reports, "GET", &format!("/reports/{id}"), None).await;
    reply.expect_status(200, "following a report that exists");
    assert_eq!(
        reply.json("the report's state")["state"],
        "succeeded",
        "GET /reports/{{id}} answers the job's current state, read from the queue each time"
    );
    replies.push(snapshot_of(&reply, id.as_str()));

    let reply = call(&reports, "GET", &format!("/reports/{id}/result"), None).await;
    reply.expect_status(200, "reading the result of a report that has succeeded");
    let body = reply.json("the report's result");
    let job = reports.queue.get(&id).await.unwrap().unwrap();
    let shown = results::visible(&reports.database, &job).await.unwrap();
    assert_eq!(
        (&body["id"], Some(&body["result"])),
        (&json!(id), shown.as_ref()),
        "GET /reports/{{id}}/result answers {{\"id\", \"result\"}} with the result \
         `results::visible(&reports.database, &job)` shows: the one saved by the run that \
         completed the job. This job ran twice: a first run lost its lease and saved its result \
         late, under its older fencing token {}, next to the result of the run that completed \
         the job (token {}); a lookup by job id alone may find either, and the client is shown \
         a result that was never the job's. Read it with `results::visible`, which goes by \
         the job's token",
        stalled.token,
        job.token
    );
    let rows = body["result"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    assert!(
        rows.len() == 1 && rows[0]["customer_id"] == json!(customer),
        "a report asked for one customer has that customer's row only, got {}",
        body["result"]
    );
    replies.push(snapshot_of(&reply, id.as_str()));
    lab::graded_snapshot!(
        "jobs_endpoint_report_followed",
        replies,
        "following a report must answer, in turn: 200 {\"id\", \"state\": \"queued\"}; 409 with \
         {\"error\", \"state\": \"queued\"}; once a worker ran it, 200 {\"id\", \"state\": \
         \"succeeded\"}; then 200 {\"id\", \"result\"} with the customer's revenue, all as \
         `application/json`"
    );
    // A second report, whose run has completed the job in Redis but not
    // yet marked its result completed in MongoDB: a worker between its two
    // last steps (or whose marking failed and will be redone). The job has
    // succeeded, so its result is shown already.
    let second = submit(&reports, json!({"customer_id": customer})).await;
    let claim = reports
        .queue
        .claim(Duration::from_secs(30))
        .await
        .unwrap()
        .expect(
            "the second report's job is ready: POST /reports queues each report as a job of its \
             own, a second request for the same customer included",
        );
    assert_eq!(
        claim.id, second,
        "POST /reports queues each report as a job of its own"
    );
    let rows = json!([{"customer_id": customer, "total_revenue": 1200, "invoices": 1}]);
    results::save_many(&reports.database, &[(&claim, &rows)])
        .await
        .unwrap();
    assert!(
        reports.queue.complete(&claim).await.unwrap(),
        "the run that claimed the second report completes it"
    );
    let reply = call(&reports, "GET", &format!("/reports/{second}/result"), None).await;
    reply.expect_status(200, "reading the result of a report that has succeeded");
    assert_eq!(
        reply.json("the second report's result")["result"],
        rows,
        "the second report has succeeded, and its result was saved by the run that completed \
         it, but that result is not marked completed yet (the worker marks it a moment after \
         completing the job, and `results::kept` finds only marked ones, for jobs gone from \
         Redis). Read the result of a job the queue still has with \
         `results::visible(&reports.database, &job)`, which goes by the job's token"
    );
    // MongoDB fails: the result of a report that has succeeded cannot be
    // read, which is not the same as an empty result.
    let cut_off = Reports {
        queue: reports.queue.clone(),
        database: lab::testing::unreachable_database(reports.database.name()).await,
    };
    let reply = call_guarded(
        &cut_off,
        "GET",
        &format!("/reports/{second}/result"),
        None,
        "with MongoDB unreachable",
    )
    .await;
    reply.expect_error(
        503,
        "with MongoDB unreachable, the result of a report that has succeeded cannot be read: \
         GET /reports/{id}/result must answer 503 Service Unavailable with a JSON error (the \
         client tries again shortly), not 200 with a `null` result, which the client takes for \
         the report's final, empty answer; pass `results::visible`'s error on",
    );
}

#[tokio::test]
async fn unknown_reports_and_bad_ids_get_json_errors() {
    let env = TestEnv::start().await;
    let reports = reports(&env).await;
    let unknown = "64b0000000000000000000ff";
    let mut replies = Vec::new();
    let reply = call(&reports, "GET", &format!("/reports/{unknown}"), None).await;
    expect_report_not_found(
        &reply,
        "GET /reports/{id}",
        "a report the queue does not know is 404 Not Found with a JSON error: \
         `error(StatusCode::NOT_FOUND, \"Report not found\")`",
    );
    replies.push(snapshot_of(&reply, ""));
    let reply = call(&reports, "GET", &format!("/reports/{unknown}/result"), None).await;
    expect_report_not_found(
        &reply,
        "GET /reports/{id}/result",
        "the result of a report the queue does not know is 404 Not Found with a JSON error, \
         as for GET /reports/{id}",
    );
    for path in ["/reports/not-a-report", "/reports/not-a-report/result"] {
        let reply = call(&reports, "GET", path, None).await;
        let status = reply.status.as_u16();
        assert!(
            status == 400 || status == 404,
            "GET {path}: an id that cannot be a job's names no report: answer 404 (or 400 for a \
             malformed id) with a JSON error, got {status} {:?}",
            reply.text()
        );
        reply.expect_error(status, "a malformed report id");
    }
    // A sign is no hexadecimal digit, though Rust's number parsers take one.
    for customer_id in [
        "42",
        "64b000000000000000000xyz",
        "",
        "+64b00000000000000000001",
    ] {
        let reply = call(
            &reports,
            "POST",
            "/reports",
            Some(json!({"customer_id": customer_id})),
        )
        .await;
        reply.expect_error(
            422,
            &format!(
                "the customer_id {customer_id:?} is not 24 hexadecimal digits, so it is refused \
                 before anything is queued: 422 Unprocessable Entity with a JSON error. Check \
                 each character with `is_ascii_hexdigit` (or use `ObjectId::parse_str`): a sign \
                 such as `+` is no hexadecimal digit, though `u128::from_str_radix` accepts one"
            ),
        );
        if customer_id == "42" {
            replies.push(snapshot_of(&reply, ""));
        }
    }
    assert_eq!(
        inspect::keys(&mut env.redis().await).await,
        Vec::<String>::new(),
        "a refused request leaves nothing behind: no job may be queued for a malformed \
         customer_id, and looking up a report writes nothing"
    );
    lab::graded_snapshot!(
        "jobs_endpoint_refusals",
        replies,
        "an unknown report must be 404 {\"error\": \"Report not found\"} and a malformed \
         customer_id 422 {\"error\": ...}, both as `application/json`"
    );
}

#[tokio::test]
async fn failed_and_cancelled_reports_have_no_result() {
    let env = TestEnv::start().await;
    let reports = reports(&env).await;
    let cancelled = submit(&reports, json!({})).await;
    let failed = submit(&reports, json!({})).await;
    reports.queue.cancel(&cancelled).await.unwrap();
    let claim = reports
        .queue
        .claim(Duration::from_secs(30))
        .await
        .unwrap()
        .expect("the second report is ready");
    assert_eq!(
        claim.id, failed,
        "POST /reports queues each report as a job of its own"
    );
    reports
        .queue
        .fail(&claim, "the report failed", false, Duration::ZERO)
        .await
        .unwrap();
    let mut replies = Vec::new();
    for (id, state) in [(&cancelled, "cancelled"), (&failed, "failed")] {
        let reply = call(&reports, "GET", &format!("/reports/{id}"), None).await;
        reply.expect_status(200, "following a report that is over");
        assert_eq!(
            reply.json("the report's state")["state"],
            state,
            "GET /reports/{{id}} answers the job's state as the queue has it"
        );
        let reply = call(&reports, "GET", &format!("/reports/{id}/result"), None).await;
        reply.expect_error(
            409,
            &format!(
                "a {state} report never has a result: GET /reports/{{id}}/result must answer 409 \
                 Conflict with {{\"error\", \"state\"}} for every state but succeeded (check \
                 `job.state != JobState::Succeeded`, not whether the job is over)"
            ),
        );
        assert_eq!(
            reply.json("the 409 answer")["state"],
            state,
            "the 409 answer says where the job stands: {{\"error\", \"state\": job.state}}"
        );
        replies.push(snapshot_of(&reply, id.as_str()));
    }
    lab::graded_snapshot!(
        "jobs_endpoint_no_result_unless_succeeded",
        replies,
        "the result of a cancelled or failed report must be 409 with {\"error\", \"state\"}, as \
         `application/json`"
    );
}

#[tokio::test]
async fn with_redis_down_every_route_answers_503() {
    let env = TestEnv::start().await;
    let server = stoppable_redis().await;
    let redis = connect_redis(server.url(), Origin::Lab).await.unwrap();
    let reports = Reports {
        queue: JobQueue::new(redis, lab::jobs::PREFIX),
        database: env.database().clone(),
    };
    let id = submit(&reports, json!({})).await;
    server.stop();
    let requests = [
        ("POST", "/reports".to_owned(), Some(json!({}))),
        ("GET", format!("/reports/{id}"), None),
        ("GET", format!("/reports/{id}/result"), None),
    ];
    for (method, path, body) in requests {
        let reply = call_guarded(&reports, method, &path, body, "with Redis down").await;
        reply.expect_error(
            503,
            "with Redis down the job queue cannot be reached: every route must answer 503 \
             Service Unavailable with a JSON error, so the client knows to try again shortly; \
             map the queue's errors with `.map_err(unavailable)?`",
        );
    }
}
