//! Graded tests of the job endpoint exercise, shared by `exercises` and
//! `solutions`: the router called without a socket, the lab's own worker
//! step doing the jobs.

use std::time::Duration;

use super::endpoint::*;
use lab::axum::body::Body;
use lab::axum::http::{Request, StatusCode, header};
use lab::jobs::JobQueue;
use lab::jobs::worker::{self, Step, WorkerOptions};
use lab::testing::TestEnv;
use lab::tower::ServiceExt;
use serde_json::{Value, json};

async fn reports(env: &TestEnv) -> Reports {
    Reports {
        queue: JobQueue::new(env.redis().await, lab::jobs::PREFIX),
        database: env.database().clone(),
    }
}

async fn call(
    reports: &Reports,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder().method(method).uri(path);
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = router(reports.clone())
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get(header::LOCATION)
        .map(|value| value.to_str().unwrap().to_owned());
    let bytes = lab::axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, location, body)
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

#[tokio::test]
async fn a_report_request_is_accepted_with_its_location() {
    let env = TestEnv::start().await;
    let reports = reports(&env).await;
    let (status, location, body) = call(&reports, "POST", "/reports", Some(json!({}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = body["id"].as_str().expect("the job's id").to_owned();
    assert_eq!(location, Some(format!("/reports/{id}")));
    assert_eq!(body["state"], "queued");
    let job = reports
        .queue
        .get(&id)
        .await
        .unwrap()
        .expect("a job was queued");
    assert_eq!(job.kind, "revenue_by_customer");
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
    let (_, _, body) = call(
        &reports,
        "POST",
        "/reports",
        Some(json!({"customer_id": customer})),
    )
    .await;
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, _, body) = call(&reports, "GET", &format!("/reports/{id}"), None).await;
    assert_eq!((status, &body["state"]), (StatusCode::OK, &json!("queued")));
    let (status, _, body) = call(&reports, "GET", &format!("/reports/{id}/result"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "not ready yet");
    assert_eq!(body["state"], "queued");
    assert_eq!(run_one(&reports).await, Step::Succeeded(id.clone()));
    let (_, _, body) = call(&reports, "GET", &format!("/reports/{id}"), None).await;
    assert_eq!(body["state"], "succeeded");
    let (status, _, body) = call(&reports, "GET", &format!("/reports/{id}/result"), None).await;
    assert_eq!(status, StatusCode::OK);
    let rows = body["result"].as_array().expect("the rows of the report");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["customer_id"], json!(customer));
}

#[tokio::test]
async fn unknown_reports_and_bad_ids_get_json_errors() {
    let env = TestEnv::start().await;
    let reports = reports(&env).await;
    let (status, _, body) = call(&reports, "GET", "/reports/64b0000000000000000000ff", None).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::NOT_FOUND, &json!("Report not found"))
    );
    let (status, _, body) = call(
        &reports,
        "GET",
        "/reports/64b0000000000000000000ff/result",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
    let (status, _, body) = call(
        &reports,
        "POST",
        "/reports",
        Some(json!({"customer_id": "42"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].is_string());
    assert!(
        reports.queue.list(None, None, 10).await.unwrap().is_empty(),
        "no job was made"
    );
}
