//! The billing API, called through its router without a socket, against
//! real servers: the routes, the bad-input table, the cache contract of
//! `GET /customers/{id}`, and Redis going away mid-run.

mod common;

use axum::http::{Method, StatusCode};
use bson::doc;
use common::{call, call_with, get, metric, send};
use lab::api::{ApiState, routes::ROUTES};
use lab::services::{Origin, connect_redis};
use lab::testing::{TestEnv, stoppable_redis};
use serde_json::{Value, json};

async fn state_for(env: &TestEnv) -> ApiState {
    lab::billing::collections::ensure_indexes(env.database())
        .await
        .unwrap();
    ApiState::new(env.database().clone(), env.redis().await)
}

fn new_customer(email: &str) -> Value {
    json!({
        "name": "Ada Lovelace",
        "email": email,
        "phone": "555-0101",
        "address": {"street": "12 St James's Square", "city": "New York", "state": "NY", "zip": "10001"},
    })
}

#[tokio::test]
async fn a_customer_is_created_read_through_the_cache_changed_and_deleted() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let created = send(
        &state,
        Method::POST,
        "/customers",
        new_customer("ada@example.com"),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["_id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.location.as_deref(),
        Some(format!("/customers/{id}").as_str())
    );

    let first = get(&state, &format!("/customers/{id}")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["source"], "database");
    assert_eq!(first.body["customer"], created.body);
    let second = get(&state, &format!("/customers/{id}")).await;
    assert_eq!(second.body["source"], "cache");
    assert_eq!(second.body["customer"], created.body);

    let changed = send(
        &state,
        Method::PATCH,
        &format!("/customers/{id}"),
        json!({"name": "Ada King"}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["name"], "Ada King");
    assert_eq!(changed.body["email"], "ada@example.com");
    let after = get(&state, &format!("/customers/{id}")).await;
    assert_eq!(
        after.body["source"], "database",
        "the update invalidated the entry"
    );
    assert_eq!(after.body["customer"]["name"], "Ada King");

    let deleted = call(&state, Method::DELETE, &format!("/customers/{id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = get(&state, &format!("/customers/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone.body,
        json!({"error": "Customer not found"}),
        "the course notes' contract"
    );
    let again = call(&state, Method::DELETE, &format!("/customers/{id}"), None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_cached_miss_is_cleared_when_the_customer_appears() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let path = "/customers/64b0000000000000000000aa";
    assert_eq!(get(&state, path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&state, path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(state.cache.stats().negative_hits, 1);
    // The customer is created under that id by another program, then the
    // API hears of it the way every write path tells the cache.
    let mut customer = lab::dataset::Generator::new(1, 1).customers()[0]
        .clone()
        .into_inner();
    customer.id = bson::oid::ObjectId::parse_str("64b0000000000000000000aa").unwrap();
    lab::billing::collections::customers(env.database())
        .insert_one(lab::billing::Valid::check(customer).unwrap())
        .await
        .unwrap();
    state
        .cache
        .invalidate(bson::oid::ObjectId::parse_str("64b0000000000000000000aa").unwrap())
        .await;
    assert_eq!(get(&state, path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_stored_customer_that_breaks_the_rules_is_left_out_of_lists_and_a_500_when_asked_for() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let generator = lab::dataset::Generator::new(3, 1);
    let customers = generator.customers();
    let collection = lab::billing::collections::customers(env.database());
    for customer in customers {
        collection.insert_one(customer).await.unwrap();
    }
    // Written by another program (or before a rule was added): a name
    // with a right-to-left override. One customer a page, so that one page
    // holds the bad one alone and the walk must go on past it.
    let bad = bson::oid::ObjectId::new();
    env.database()
        .collection::<bson::Document>("customers")
        .insert_one(doc! {
            "_id": bad, "name": "Ada \u{202E}ecalevol", "email": "bad@example.com",
            "created_at": bson::DateTime::now(),
        })
        .await
        .unwrap();
    let mut listed = Vec::new();
    let mut path = "/customers?limit=1".to_owned();
    loop {
        let answer = get(&state, &path).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        for customer in answer.body["customers"].as_array().unwrap() {
            listed.push(customer["_id"].as_str().unwrap().to_owned());
        }
        match answer.body["next"].as_str() {
            Some(next) => path = format!("/customers?limit=1&after={next}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = customers.iter().map(|c| c.id.to_hex()).collect();
    expected.sort();
    assert_eq!(
        listed, expected,
        "every valid customer is listed, the bad one left out"
    );
    let answer = get(&state, &format!("/customers/{bad}")).await;
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.body
    );
    assert!(
        answer.body["error"]
            .as_str()
            .is_some_and(|error| error.contains("breaks the billing rules")),
        "{}",
        answer.body
    );
}

/// What is wrong, the request (method, path, content type and body), and
/// the status and words the answer must carry.
type BadInput<'a> = (
    &'a str,
    Method,
    String,
    Option<(&'a str, Vec<u8>)>,
    StatusCode,
    &'a str,
);

#[tokio::test]
async fn bad_input_gets_the_right_status_and_a_json_error_and_changes_nothing() {
    let env = TestEnv::start_seeded().await;
    let state = state_for(&env).await;
    let page = get(&state, "/customers?limit=2").await.body;
    let existing = page["customers"][0].clone();
    let id = existing["_id"].as_str().unwrap().to_owned();
    let other = page["customers"][1]["_id"].as_str().unwrap().to_owned();
    let taken_email = existing["email"].as_str().unwrap().to_owned();
    let customers_before = env
        .database()
        .collection::<bson::Document>("customers")
        .count_documents(doc! {})
        .await
        .unwrap();

    let json = "application/json";
    let big = {
        let mut body = new_customer("big@example.com");
        body["name"] = Value::String("x".repeat(10 * 1024 * 1024));
        serde_json::to_vec(&body).unwrap()
    };
    let with_field = |field: &str, value: Value| {
        let mut body = new_customer("new@example.com");
        body[field] = value;
        serde_json::to_vec(&body).unwrap()
    };
    let cases: Vec<BadInput> = vec![
        ("a malformed id", Method::GET, "/customers/not-an-id".into(), None, StatusCode::BAD_REQUEST, "is not a valid id"),
        ("an id one digit short", Method::GET, "/customers/64b00000000000000000000".into(), None, StatusCode::BAD_REQUEST, "24 hexadecimal"),
        ("an id with a non-hex digit", Method::GET, "/customers/64b00000000000000000000g".into(), None, StatusCode::BAD_REQUEST, "24 hexadecimal"),
        ("a malformed id on revenue", Method::GET, "/customers/zz/revenue".into(), None, StatusCode::BAD_REQUEST, "is not a valid id"),
        ("a malformed invoice id", Method::GET, "/invoices/123".into(), None, StatusCode::BAD_REQUEST, "is not a valid id"),
        ("a malformed paging cursor", Method::GET, "/customers?after=xyz".into(), None, StatusCode::BAD_REQUEST, "is not a valid id"),
        ("a page too large", Method::GET, "/customers?limit=100000".into(), None, StatusCode::BAD_REQUEST, "limit must be from 1 to 200"),
        ("a limit that is not a number", Method::GET, "/customers?limit=ten".into(), None, StatusCode::BAD_REQUEST, "limit"),
        ("an unknown customer", Method::GET, "/customers/64b0000000000000000000ff".into(), None, StatusCode::NOT_FOUND, "Customer not found"),
        ("an unknown route", Method::GET, "/nowhere".into(), None, StatusCode::NOT_FOUND, "no route"),
        ("a 9 KiB path", Method::GET, format!("/customers/{}", "a".repeat(9 * 1024)), None, StatusCode::URI_TOO_LONG, "longer than 8192 bytes"),
        ("a method the route does not take", Method::PUT, "/customers".into(), None, StatusCode::METHOD_NOT_ALLOWED, "does not take PUT"),
        ("no content type", Method::POST, "/customers".into(), Some(("", serde_json::to_vec(&new_customer("a@example.com")).unwrap())), StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type: application/json"),
        ("a form instead of JSON", Method::POST, "/customers".into(), Some(("application/x-www-form-urlencoded", b"name=Ada".to_vec())), StatusCode::UNSUPPORTED_MEDIA_TYPE, "as JSON"),
        ("text that is not JSON", Method::POST, "/customers".into(), Some((json, b"{name: Ada".to_vec())), StatusCode::BAD_REQUEST, "not valid JSON"),
        ("an empty body", Method::POST, "/customers".into(), Some((json, Vec::new())), StatusCode::BAD_REQUEST, "not valid JSON"),
        ("JSON with trailing garbage", Method::POST, "/customers".into(), Some((json, [serde_json::to_vec(&new_customer("t@example.com")).unwrap(), b"}".to_vec()].concat())), StatusCode::BAD_REQUEST, "not valid JSON"),
        ("a 10 MB body", Method::POST, "/customers".into(), Some((json, big)), StatusCode::PAYLOAD_TOO_LARGE, "larger than"),
        ("a number for the name", Method::POST, "/customers".into(), Some((json, with_field("name", json!(42)))), StatusCode::UNPROCESSABLE_ENTITY, "name: invalid type"),
        ("a string for the address", Method::POST, "/customers".into(), Some((json, with_field("address", json!("somewhere")))), StatusCode::UNPROCESSABLE_ENTITY, "address: invalid type"),
        ("a missing field", Method::POST, "/customers".into(), Some((json, serde_json::to_vec(&json!({"name": "Ada"})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "missing field"),
        ("an unknown field", Method::POST, "/customers".into(), Some((json, with_field("nickname", json!("Ada")))), StatusCode::UNPROCESSABLE_ENTITY, "unknown field `nickname`"),
        ("a $-prefixed key", Method::POST, "/customers".into(), Some((json, with_field("$where", json!("1 == 1")))), StatusCode::UNPROCESSABLE_ENTITY, "unknown field `$where`"),
        ("an operator in a nested document", Method::POST, "/customers".into(), Some((json, with_field("address", json!({"$set": {"city": "x"}})))), StatusCode::UNPROCESSABLE_ENTITY, "unknown field `$set`"),
        ("an operator as a value", Method::POST, "/customers".into(), Some((json, with_field("email", json!({"$ne": null})))), StatusCode::UNPROCESSABLE_ENTITY, "email: invalid type"),
        ("an invalid email", Method::POST, "/customers".into(), Some((json, with_field("email", json!("not an email")))), StatusCode::UNPROCESSABLE_ENTITY, "email"),
        ("an invalid zip code", Method::POST, "/customers".into(), Some((json, with_field("address", json!({"street": "1 Main St", "city": "X", "state": "NY", "zip": "ABCDE"})))), StatusCode::UNPROCESSABLE_ENTITY, "address.zip"),
        ("an email already used", Method::POST, "/customers".into(), Some((json, serde_json::to_vec(&new_customer(&taken_email)).unwrap())), StatusCode::CONFLICT, "already exists"),
        ("an email already used, in capitals", Method::POST, "/customers".into(), Some((json, serde_json::to_vec(&new_customer(&taken_email.to_uppercase())).unwrap())), StatusCode::CONFLICT, "already exists"),
        ("a name with a control character", Method::POST, "/customers".into(), Some((json, with_field("name", json!("Ada\u{1b}[31m")))), StatusCode::UNPROCESSABLE_ENTITY, "name: contains the control character U+001B"),
        ("a line total past a billion", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "items": [{"description": "x", "quantity": 2, "unit_price": "600000000"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "items[0].total: 1200000000 is more than 1000000000"),
        ("a total past a billion", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "items": [{"description": "x", "quantity": 1, "unit_price": "1000000000"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "total_amount: "),
        ("an email already used, by a change", Method::PATCH, format!("/customers/{other}"), Some((json, serde_json::to_vec(&json!({"email": taken_email})).unwrap())), StatusCode::CONFLICT, "already exists"),
        ("an invoice date whose default due date is past 2099", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "invoice_date": "2099-12-31", "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "invoice_date: with no due_date the invoice is due 30 days after it, and that due date must be from 2000-01-01 to 2099-12-31"),
        ("overdue before its due date", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "status": "overdue", "due_date": "2099-01-01", "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "status: an invoice due on 2099-01-01 cannot be overdue before then"),
        ("an empty change", Method::PATCH, format!("/customers/{id}"), Some((json, b"{}".to_vec())), StatusCode::UNPROCESSABLE_ENTITY, "at least one field"),
        ("a change to an unknown field", Method::PATCH, format!("/customers/{id}"), Some((json, serde_json::to_vec(&json!({"_id": "64b0000000000000000000ff"})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "unknown field `_id`"),
        ("a customer with invoices deleted", Method::DELETE, format!("/customers/{id}"), None, StatusCode::CONFLICT, "cannot be deleted"),
        ("an invoice for nobody", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": "64b0000000000000000000ff", "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "customer_id: there is no customer"),
        ("a price as a JSON number", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "items": [{"description": "x", "quantity": 1, "unit_price": 50.0}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "items[0].unit_price: invalid type"),
        ("a fraction of a cent", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "items": [{"description": "x", "quantity": 1, "unit_price": "1.005"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "items[0].unit_price"),
        ("a zero quantity", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "items": [{"description": "x", "quantity": 0, "unit_price": "1.00"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "items[0].quantity"),
        ("no items", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "items": []})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "items"),
        ("an unknown status", Method::PUT, "/invoices/64b0000000000000000000ff/status".into(), Some((json, serde_json::to_vec(&json!({"status": "shipped"})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "unknown variant `shipped`"),
        ("a due date that is not a date", Method::POST, "/invoices".into(), Some((json, serde_json::to_vec(&json!({"customer_id": id, "due_date": "soon", "items": [{"description": "x", "quantity": 1, "unit_price": "1.00"}]})).unwrap())), StatusCode::UNPROCESSABLE_ENTITY, "due_date"),
    ];
    for (what, method, path, body, expected, words) in cases {
        let answer = call(&state, method, &path, body).await;
        assert_eq!(answer.status, expected, "{what}: {}", answer.body);
        let error = answer.body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(words),
            "{what}: {error:?} should mention {words:?}"
        );
    }
    // A body declared compressed: the API decodes no Content-Encoding.
    let plain = serde_json::to_vec(&new_customer("gzip@example.com")).unwrap();
    let answer = call_with(
        &state,
        Method::POST,
        "/customers",
        &[("content-encoding", "gzip")],
        Some(("application/json", plain)),
    )
    .await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some(
                "send the body as plain JSON, without Content-Encoding (it was declared \"gzip\", \
                 which the API does not decode)"
            )
        )
    );
    assert_eq!(answer.headers["accept-encoding"], "identity");
    let customers_after = env
        .database()
        .collection::<bson::Document>("customers")
        .count_documents(doc! {})
        .await
        .unwrap();
    assert_eq!(
        customers_before, customers_after,
        "no bad request wrote anything"
    );
    assert_eq!(metric(&state, "lab_requests_server_errors").await, Some(0));
    assert!(metric(&state, "lab_requests_client_errors").await.unwrap() > 10);
}

#[tokio::test]
async fn invoices_are_issued_with_computed_totals_and_move_only_forward() {
    let env = TestEnv::start_seeded().await;
    let state = state_for(&env).await;
    let customer = get(&state, "/customers?limit=1").await.body["customers"][0].clone();
    let id = customer["_id"].as_str().unwrap();
    let issued = send(
        &state,
        Method::POST,
        "/invoices",
        json!({
            "customer_id": id,
            "invoice_date": "2026-01-15",
            "items": [
                {"description": "Web Hosting", "quantity": 2, "unit_price": "50.00"},
                {"description": "Domain", "quantity": 1, "unit_price": "15.00"},
            ],
        }),
    )
    .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.body);
    assert_eq!(issued.body["subtotal"], "115.00");
    assert_eq!(issued.body["status"], "pending");
    assert_eq!(
        issued.body["due_date"], "2026-02-14T00:00:00Z",
        "30 days by default"
    );
    let percent = lab::billing::tax::tax_percent(customer["address"]["state"].as_str().unwrap());
    let rate = lab::billing::TaxRate::from_percent(percent).unwrap();
    let tax = "115.00".parse::<lab::billing::Money>().unwrap().share(rate);
    assert_eq!(
        issued.body["tax"],
        tax.to_string(),
        "tax follows the customer's state"
    );
    let invoice_path = issued.location.unwrap();
    assert_eq!(get(&state, &invoice_path).await.body, issued.body);

    let revenue_before = get(&state, &format!("/customers/{id}/revenue")).await.body;
    let status = format!("{invoice_path}/status");
    let overdue = send(&state, Method::PUT, &status, json!({"status": "overdue"})).await;
    assert_eq!(overdue.body["status"], "overdue");
    let paid = send(&state, Method::PUT, &status, json!({"status": "paid"})).await;
    assert_eq!(paid.body["status"], "paid");
    let back = send(&state, Method::PUT, &status, json!({"status": "pending"})).await;
    assert_eq!(back.status, StatusCode::CONFLICT);
    assert_eq!(
        back.body["error"],
        "an invoice that is paid cannot become pending"
    );
    let again = send(&state, Method::PUT, &status, json!({"status": "paid"})).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "asking for the status it has is not an error"
    );
    let missing = send(
        &state,
        Method::PUT,
        "/invoices/64b0000000000000000000ff/status",
        json!({"status": "paid"}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get(&state, &format!("/customers/{id}/revenue")).await.body,
        revenue_before,
        "a status change is not revenue"
    );
    let not_yet_due = send(
        &state,
        Method::POST,
        "/invoices",
        json!({
            "customer_id": id,
            "due_date": "2099-06-30",
            "items": [{"description": "Support", "quantity": 1, "unit_price": "20.00"}],
        }),
    )
    .await;
    assert_eq!(
        not_yet_due.status,
        StatusCode::CREATED,
        "{}",
        not_yet_due.body
    );
    let path = not_yet_due.location.unwrap();
    let early = send(
        &state,
        Method::PUT,
        &format!("{path}/status"),
        json!({"status": "overdue"}),
    )
    .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    assert_eq!(
        early.body["error"],
        "an invoice due on 2099-06-30 cannot be overdue before then"
    );
    assert_eq!(get(&state, &path).await.body["status"], "pending");

    let listed = get(&state, &format!("/customers/{id}/invoices?limit=500")).await;
    assert_eq!(listed.status, StatusCode::BAD_REQUEST);
    let mut seen = 0;
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            Some(after) => format!("/customers/{id}/invoices?limit=7&after={after}"),
            None => format!("/customers/{id}/invoices?limit=7"),
        };
        let page = get(&state, &path).await.body;
        seen += page["invoices"].as_array().unwrap().len();
        match page["next"].as_str() {
            Some(after) => next = Some(after.to_owned()),
            None => break,
        }
    }
    let expected = get(&state, &format!("/customers/{id}/revenue")).await.body["invoices"]
        .as_u64()
        .unwrap();
    assert_eq!(seen as u64, expected, "paging visits every invoice once");
}

#[tokio::test]
async fn the_router_answers_exactly_the_methods_the_openapi_document_describes() {
    let env = TestEnv::start_seeded().await;
    let state = state_for(&env).await;
    let document = get(&state, "/openapi.json").await.body;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    // Which paths the router has is checked against its source, in
    // `lab::api::routes`; here, each method of each of them.
    for (path, item) in paths {
        let concrete = path.replace("{id}", "64b0000000000000000000ff");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let operation = &item[method.as_str().to_ascii_lowercase()];
            let body = operation["requestBody"]
                .is_object()
                .then(|| ("application/json", b"{}".to_vec()));
            let answer = call(&state, method.clone(), &concrete, body).await;
            let routed = answer.status != StatusCode::METHOD_NOT_ALLOWED
                && !answer.body["error"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("no route");
            assert_eq!(
                routed,
                operation.is_object(),
                "{method} {path}: routed {routed}, answered {}",
                answer.status
            );
            if routed {
                assert!(
                    operation["responses"].get(answer.status.as_str()).is_some(),
                    "{method} {path} answered {}, which the document does not list",
                    answer.status
                );
            }
        }
    }
    let listed: Vec<String> = get(&state, "/").await.body["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|route| route.as_str().unwrap().to_owned())
        .collect();
    let described: Vec<String> = ROUTES
        .iter()
        .map(|route| format!("{} {}", route.method, route.path))
        .collect();
    assert_eq!(listed, described, "GET / lists the document's routes");
    assert!(!listed.is_empty());
    assert_eq!(get(&state, "/health").await.body["status"], "ok");
}

#[tokio::test]
async fn with_redis_gone_reads_keep_working_and_writes_reach_mongodb() {
    let env = TestEnv::start_seeded().await;
    lab::billing::collections::ensure_indexes(env.database())
        .await
        .unwrap();
    let server = stoppable_redis().await;
    let redis = connect_redis(server.url(), Origin::Lab).await.unwrap();
    let state = ApiState::new(env.database().clone(), redis);
    let id = get(&state, "/customers?limit=1").await.body["customers"][0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/customers/{id}");
    assert_eq!(get(&state, &path).await.body["source"], "database");
    assert_eq!(get(&state, &path).await.body["source"], "cache");

    server.stop();
    for _ in 0..10 {
        let answer = get(&state, &path).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.body["source"], "database");
    }
    let changed = send(&state, Method::PATCH, &path, json!({"phone": "555-0199"})).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        get(&state, &path).await.body["customer"]["phone"],
        "555-0199"
    );
    let created = send(
        &state,
        Method::POST,
        "/customers",
        new_customer("during-outage@example.com"),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let stored = env
        .database()
        .collection::<bson::Document>("customers")
        .count_documents(doc! {"email": "during-outage@example.com"})
        .await
        .unwrap();
    assert_eq!(stored, 1, "the write reached MongoDB");
    let health = get(&state, "/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["status"], "degraded");
    assert!(
        metric(&state, "lab_customer_cache_fallbacks")
            .await
            .unwrap()
            >= 10
    );
    assert_eq!(metric(&state, "lab_requests_server_errors").await, Some(0));
    assert_eq!(
        metric(&state, "lab_jobs_queued").await,
        None,
        "the job gauges are left out while Redis is down"
    );
}

#[tokio::test]
async fn a_thousand_simultaneous_requests_for_a_cold_customer_read_mongodb_once() {
    let env = TestEnv::start_seeded().await;
    let state = state_for(&env).await;
    let id = get(&state, "/customers?limit=1").await.body["customers"][0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/customers/{id}");
    let requests = (0..1000).map(|_| get(&state, &path));
    let answers = futures_util::future::join_all(requests).await;
    assert!(answers.iter().all(|answer| answer.status == StatusCode::OK));
    let from_database = answers
        .iter()
        .filter(|answer| answer.body["source"] == "database")
        .count();
    assert_eq!(
        metric(&state, "lab_customer_cache_database_reads").await,
        Some(1)
    );
    assert!(
        from_database >= 1,
        "the ones that waited for the read say so"
    );
}

#[tokio::test]
async fn serve_answers_on_a_socket_and_stops_when_asked() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lab::api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""status":"ok""#), "{answer}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "after shutdown nothing listens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_different_fields_keep_every_change() {
    let env = TestEnv::start().await;
    let state = state_for(&env).await;
    let created = send(
        &state,
        Method::POST,
        "/customers",
        new_customer("race@example.com"),
    )
    .await;
    let id = created.body["_id"].as_str().unwrap().to_owned();
    let path = format!("/customers/{id}");
    for round in 0..20 {
        let (name, phone) = (format!("Ada {round}"), format!("555-{round:04}"));
        let renaming = {
            let (state, path) = (state.clone(), path.clone());
            let body = json!({ "name": name });
            tokio::spawn(async move { send(&state, Method::PATCH, &path, body).await })
        };
        let rephoning = {
            let (state, path) = (state.clone(), path.clone());
            let body = json!({ "phone": phone });
            tokio::spawn(async move { send(&state, Method::PATCH, &path, body).await })
        };
        let (renamed, rephoned) = (renaming.await.unwrap(), rephoning.await.unwrap());
        assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
        assert_eq!(rephoned.status, StatusCode::OK, "{}", rephoned.body);
        assert_eq!(
            renamed.body["name"],
            name.as_str(),
            "a PATCH answers the document as stored"
        );
        let stored = env
            .database()
            .collection::<bson::Document>("customers")
            .find_one(doc! {})
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                stored.get_str("name").unwrap(),
                stored.get_str("phone").unwrap()
            ),
            (name.as_str(), phone.as_str()),
            "round {round}: both PATCHes answered 200, so both changes must be stored"
        );
    }
}

#[tokio::test]
async fn customers_acknowledged_with_201_survive_kill_9_of_the_embedded_server() {
    let Some((server, dir)) = lab::testing::killable_mongodb().await else {
        eprintln!("MONGODB_URI names the server; the lab does not kill servers it did not start");
        return;
    };
    let env = TestEnv::start().await;
    let client = lab::services::connect_mongodb(server.url(), Origin::Lab)
        .await
        .unwrap();
    let database = client.database("durability");
    lab::billing::collections::ensure_indexes(&database)
        .await
        .unwrap();
    let state = ApiState::new(database, env.redis().await);
    let mut acknowledged = Vec::new();
    for number in 0..20 {
        let email = format!("durable{number}@example.com");
        let created = send(&state, Method::POST, "/customers", new_customer(&email)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        acknowledged.push(email);
    }
    // At once, as a power cut would: no time for a background flush.
    let pid = nix::unistd::Pid::from_raw(server.pid().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    drop(state);
    drop(server);
    let restarted = lab::testing::restart_mongodb(&dir).await;
    let client = lab::services::connect_mongodb(restarted.url(), Origin::Lab)
        .await
        .unwrap();
    let stored = client
        .database("durability")
        .collection::<bson::Document>("customers")
        .count_documents(doc! { "email": { "$in": &acknowledged } })
        .await
        .unwrap();
    assert_eq!(
        stored, 20,
        "every customer answered with 201 must survive the server's kill -9"
    );
    client.shutdown().await;
}

#[tokio::test]
async fn an_invalidation_redis_missed_survives_a_restart_of_the_api() {
    use nix::sys::signal::{Signal, kill};
    let env = TestEnv::start_seeded().await;
    lab::billing::collections::ensure_indexes(env.database())
        .await
        .unwrap();
    let server = stoppable_redis().await;
    let pid = nix::unistd::Pid::from_raw(server.pid().unwrap() as i32);
    let first_api = ApiState::new(
        env.database().clone(),
        connect_redis(server.url(), Origin::Lab).await.unwrap(),
    );
    let id = get(&first_api, "/customers?limit=1").await.body["customers"][0]["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/customers/{id}");
    get(&first_api, &path).await;
    assert_eq!(get(&first_api, &path).await.body["source"], "cache");

    // Redis stops answering (paused, so it keeps the stale entry, as one
    // restarted from its append-only file would), the customer changes,
    // and the API process goes away before Redis is back.
    kill(pid, Signal::SIGSTOP).unwrap();
    let changed = send(
        &first_api,
        Method::PATCH,
        &path,
        json!({"name": "Renamed Meanwhile"}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    drop(first_api);
    kill(pid, Signal::SIGCONT).unwrap();

    let second_api = ApiState::new(
        env.database().clone(),
        connect_redis(server.url(), Origin::Lab).await.unwrap(),
    );
    let restored = second_api.cache.restore_pending().await.unwrap();
    assert_eq!(restored, 1, "the missed invalidation was kept in MongoDB");
    for _ in 0..2 {
        let answer = get(&second_api, &path).await;
        assert_eq!(
            answer.body["customer"]["name"], "Renamed Meanwhile",
            "a restarted API must never serve the customer as it was before an acknowledged write: {}",
            answer.body
        );
    }
    assert_eq!(
        second_api.cache.restore_pending().await.unwrap(),
        0,
        "once Redis applied it, the invalidation is forgotten"
    );
}
