//! Graded tests of the products API exercise, shared by `exercises` and
//! `solutions`. The router is called without a socket.

use super::products::*;
use lab::axum::body::Body;
use lab::axum::http::{Method, Request, StatusCode, header};
use lab::tower::ServiceExt;
use serde_json::{Value, json};

async fn call(
    catalogue: &Catalogue,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = Request::builder().method(method).uri(path);
    let body = match body {
        Some(value) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&value).unwrap())
        }
        None => Body::empty(),
    };
    let response = router(catalogue.clone())
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

#[tokio::test]
async fn products_are_listed_by_id() {
    let catalogue = Catalogue::default();
    let (status, _, body) = call(&catalogue, Method::GET, "/products", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]), "an empty catalogue lists nothing");
    catalogue.add("Mug", 1200);
    catalogue.add("Poster", 900);
    let (_, _, body) = call(&catalogue, Method::GET, "/products", None).await;
    assert_eq!(
        body,
        json!([
            {"id": 1, "name": "Mug", "price_cents": 1200},
            {"id": 2, "name": "Poster", "price_cents": 900},
        ])
    );
}

#[tokio::test]
async fn creating_answers_201_with_the_location_and_the_product() {
    let catalogue = Catalogue::default();
    let (status, location, body) = call(
        &catalogue,
        Method::POST,
        "/products",
        Some(json!({"name": "Mug", "price_cents": 1200})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(location.as_deref(), Some("/products/1"));
    assert_eq!(body, json!({"id": 1, "name": "Mug", "price_cents": 1200}));
    assert_eq!(catalogue.all().len(), 1, "the product was stored");
}

#[tokio::test]
async fn a_blank_name_is_refused_with_422_and_stores_nothing() {
    let catalogue = Catalogue::default();
    let (status, _, body) = call(
        &catalogue,
        Method::POST,
        "/products",
        Some(json!({"name": "   ", "price_cents": 100})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"].is_string(), "the error is JSON: {body}");
    assert!(catalogue.all().is_empty());
}

#[tokio::test]
async fn one_product_is_found_by_its_id_or_404() {
    let catalogue = Catalogue::default();
    catalogue.add("Mug", 1200);
    let (status, _, body) = call(&catalogue, Method::GET, "/products/1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "Mug");
    let (status, _, body) = call(&catalogue, Method::GET, "/products/7", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "Product not found"}));
}

#[tokio::test]
async fn deleting_answers_204_then_404_and_other_methods_405() {
    let catalogue = Catalogue::default();
    catalogue.add("Mug", 1200);
    let (status, _, _) = call(&catalogue, Method::DELETE, "/products/1", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(catalogue.all().is_empty());
    let (status, _, body) = call(&catalogue, Method::DELETE, "/products/1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"error": "Product not found"}));
    let (status, _, _) = call(&catalogue, Method::PUT, "/products/1", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}
