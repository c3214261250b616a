//! Tests of `ops`.

use std::collections::BTreeMap;

use super::*;

/// Every family `/metrics` shows, with its type and the value the
/// records below give it: a counter that disappears, is renamed or
/// shows another counter's number fails the test.
const FAMILIES: [(&str, &str, u64); 17] = [
    ("lab_requests_success", "counter", 1),
    ("lab_requests_client_errors", "counter", 2),
    ("lab_requests_server_errors", "counter", 3),
    ("lab_customer_cache_hits", "counter", 11),
    ("lab_customer_cache_negative_hits", "counter", 12),
    ("lab_customer_cache_misses", "counter", 13),
    ("lab_customer_cache_fallbacks", "counter", 14),
    ("lab_customer_cache_database_reads", "counter", 15),
    ("lab_customer_cache_coalesced", "counter", 16),
    ("lab_customer_cache_write_backs", "counter", 17),
    (
        "lab_customer_cache_stale_write_backs_refused",
        "counter",
        18,
    ),
    ("lab_customer_cache_invalidations", "counter", 19),
    ("lab_customer_cache_invalidations_deferred", "counter", 20),
    ("lab_jobs_queued", "gauge", 21),
    ("lab_jobs_running", "gauge", 22),
    ("lab_jobs_waiting_retry", "gauge", 23),
    ("lab_jobs_dead", "gauge", 24),
];

fn requests() -> RequestCounts {
    RequestCounts {
        success: AtomicU64::new(1),
        client_errors: AtomicU64::new(2),
        server_errors: AtomicU64::new(3),
    }
}

const CACHE: StatsSnapshot = StatsSnapshot {
    hits: 11,
    negative_hits: 12,
    misses: 13,
    fallbacks: 14,
    database_reads: 15,
    coalesced: 16,
    write_backs: 17,
    stale_write_backs_refused: 18,
    invalidations: 19,
    invalidations_deferred: 20,
};

const JOBS: QueueStats = QueueStats {
    queued: 21,
    running: 22,
    waiting_retry: 23,
    dead: 24,
};

/// One family as read back: its type, its help and its one value.
#[derive(Debug, Default)]
struct Family {
    kind: String,
    help: String,
    value: Option<u64>,
}

/// Reads OpenMetrics text as a scraper must: `# HELP` and `# TYPE` of a
/// family, then its one sample (`_total` after a counter's name), and
/// `# EOF` as the last line. Any other line fails the test.
fn parse(text: &str) -> BTreeMap<String, Family> {
    let body = text
        .strip_suffix("# EOF\n")
        .unwrap_or_else(|| panic!("OpenMetrics text ends with # EOF:\n{text}"));
    let mut families = BTreeMap::<String, Family>::new();
    for line in body.lines() {
        let mut words = line.splitn(4, ' ');
        match (words.next(), words.next(), words.next(), words.next()) {
            (Some("#"), Some("HELP"), Some(name), Some(help)) => {
                families.entry(name.to_owned()).or_default().help = help.to_owned();
            }
            (Some("#"), Some("TYPE"), Some(name), Some(kind)) => {
                families.entry(name.to_owned()).or_default().kind = kind.to_owned();
            }
            (Some(sample), Some(value), None, None) => {
                let (name, family) = families
                    .iter_mut()
                    .find(|(name, family)| {
                        let suffix = if family.kind == "counter" {
                            "_total"
                        } else {
                            ""
                        };
                        *sample == format!("{name}{suffix}")
                    })
                    .unwrap_or_else(|| panic!("{line:?} follows no # TYPE of its family"));
                assert!(family.value.is_none(), "{name} has one sample");
                family.value = Some(value.parse().unwrap_or_else(|_| panic!("{line:?}")));
            }
            _ => panic!("not an OpenMetrics line of ours: {line:?}"),
        }
    }
    families
}

#[test]
fn every_counter_is_exposed_with_its_type_help_and_value() {
    let families = parse(&exposition(&requests(), &CACHE, Some(&JOBS)));
    let names: Vec<&str> = families.keys().map(String::as_str).collect();
    let mut expected: Vec<&str> = FAMILIES.iter().map(|(name, ..)| *name).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for (name, kind, value) in FAMILIES {
        let family = &families[name];
        assert_eq!(family.kind, kind, "{name}");
        assert_eq!(family.value, Some(value), "{name}");
        assert!(family.help.len() > 20, "{name} says what it counts");
    }
}

#[test]
fn the_job_gauges_are_left_out_when_redis_did_not_answer() {
    let families = parse(&exposition(&requests(), &CACHE, None));
    assert_eq!(families.len(), FAMILIES.len() - 4);
    assert!(families.keys().all(|name| !name.starts_with("lab_jobs_")));
}

#[test]
fn the_openapi_document_gives_the_served_content_type() {
    let operation = routes::document().paths.paths["/metrics"]
        .get
        .as_ref()
        .expect("GET /metrics is documented");
    let utoipa::openapi::RefOr::T(answer) = &operation.responses.responses["200"] else {
        panic!("the 200 answer is described in place");
    };
    let documented: Vec<&str> = answer.content.keys().map(String::as_str).collect();
    let served = METRICS_CONTENT_TYPE.split(';').next();
    assert_eq!(documented, served.into_iter().collect::<Vec<_>>());
    assert!(answer.description.contains("# EOF"));
}

/// A handler that has not answered in time is given up with the API's
/// JSON error, not an empty 503; one that answers in time is untouched.
#[tokio::test]
async fn a_request_past_its_deadline_gets_a_json_503() {
    use axum::body::{Body, to_bytes};
    use axum::routing::get;
    use tower::ServiceExt;

    async fn too_late() -> &'static str {
        tokio::time::sleep(Duration::from_secs(30)).await;
        "too late"
    }
    let router = axum::Router::new()
        .route("/slow", get(too_late).post(too_late))
        .route("/quick", get(|| async { "in time" }))
        .layer(axum::middleware::from_fn_with_state(
            Duration::from_millis(50),
            deadline,
        ));
    let call = |method: Method, path: &'static str| {
        let router = router.clone();
        async move {
            let request = Request::builder().method(method).uri(path);
            let response = router
                .oneshot(request.body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    // Only a request that could write is told a write may have been made.
    for (method, may_have_written) in [(Method::GET, false), (Method::POST, true)] {
        let (status, body) = call(method.clone(), "/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        let message = error["error"].as_str().unwrap();
        assert!(
            message.starts_with("the request took longer than 50ms"),
            "{body}"
        );
        assert_eq!(
            message.contains("a write may still have been made"),
            may_have_written,
            "{method}: {body}"
        );
    }
    assert_eq!(
        call(Method::GET, "/quick").await,
        (StatusCode::OK, "in time".to_owned())
    );
}
