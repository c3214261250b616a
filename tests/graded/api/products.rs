//! Graded tests of the products API exercise, shared by `exercises` and
//! `solutions`. The router is called without a socket, and every answer is
//! read the way a client reads it (`lab::testing::http`): the status, the
//! `Content-Type` of every JSON body, the `Location` of a created product,
//! and a JSON `{"error": ...}` body on the refusals the table promises.

use super::products::*;
use lab::testing::http::{Reply, send, send_raw};
use serde_json::{Value, json};

/// Sends `method path` to a router over `catalogue`, with `body` as JSON.
async fn call(catalogue: &Catalogue, method: &str, path: &str, body: Option<Value>) -> Reply {
    send(router(catalogue.clone()), method, path, body).await
}

/// Sends a body exactly as given, with `content_type` (none when `None`),
/// for the requests `send` cannot make: text that is not JSON, or JSON that
/// is not declared as such.
async fn call_raw(
    catalogue: &Catalogue,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    send_raw(router(catalogue.clone()), method, path, content_type, body).await
}

#[tokio::test]
async fn products_are_listed_by_id() {
    let catalogue = Catalogue::default();
    let reply = call(&catalogue, "GET", "/products", None).await;
    reply.expect_status(200, "listing the products");
    assert_eq!(
        reply.json("the list of products"),
        json!([]),
        "an empty catalogue is listed as an empty JSON array, `[]`: answer `Json(catalogue.all())`"
    );
    catalogue.add("Mug", 1200);
    catalogue.add("Poster", 900);
    let reply = call(&catalogue, "GET", "/products", None).await;
    reply.expect_status(200, "listing the products");
    assert_eq!(
        reply.json("the list of products"),
        json!([
            {"id": 1, "name": "Mug", "price_cents": 1200},
            {"id": 2, "name": "Poster", "price_cents": 900},
        ]),
        "GET /products answers every product of the catalogue, by id, each as \
         {{\"id\", \"name\", \"price_cents\"}}: return `Json(catalogue.all())`"
    );
    lab::graded_snapshot!(
        "products_listed",
        reply.snapshot(),
        "GET /products must answer 200 with `Content-Type: application/json` and the products \
         by id as a JSON array"
    );
    // Mug and Poster are in alphabetical order too: a third product whose
    // name comes first tells the two orders apart.
    catalogue.add("Apron", 2500);
    let reply = call(&catalogue, "GET", "/products", None).await;
    reply.expect_status(200, "listing the products");
    let listed = reply.json("the list of products");
    let ids: Vec<u64> = listed
        .as_array()
        .map(|products| products.iter().filter_map(|p| p["id"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(
        ids,
        [1, 2, 3],
        "with Mug (id 1), Poster (2) and Apron (3) in the catalogue, GET /products must list \
         them by id, not alphabetically or by price; it listed the ids {ids:?}. The table \
         promises the order of the ids, which clients rely on (a new product comes last): \
         answer `Json(catalogue.all())` as it comes, already by id, without sorting it again"
    );
    for number in 0..120 {
        catalogue.add(&format!("Sticker {number}"), 100);
    }
    let reply = call(&catalogue, "GET", "/products", None).await;
    reply.expect_status(200, "listing the products");
    let listed = reply.json("the list of products");
    let count = listed.as_array().map_or(0, Vec::len);
    assert_eq!(
        count, 123,
        "GET /products answers every product of the catalogue: with 123 products it listed \
         {count}; the table promises them all, so answer `Json(catalogue.all())` without a \
         limit of your own"
    );
}

#[tokio::test]
async fn creating_answers_201_with_the_location_and_the_product() {
    let catalogue = Catalogue::default();
    let reply = call(
        &catalogue,
        "POST",
        "/products",
        Some(json!({"name": "Mug", "price_cents": 1200})),
    )
    .await;
    reply.expect_status(
        201,
        "creating answers 201 Created, not 200: return `(StatusCode::CREATED, ...)`",
    );
    assert_eq!(
        reply.location(),
        Some("/products/1"),
        "a 201 answer says where the new product lives in its `Location` header, \
         `/products/{{id}}`: add `[(header::LOCATION, location)]` to the answer"
    );
    let created = reply.json("the created product");
    assert_eq!(
        created,
        json!({"id": 1, "name": "Mug", "price_cents": 1200}),
        "creating answers the new product as JSON, with the id the catalogue gave it"
    );
    assert_eq!(
        catalogue.all(),
        vec![Product {
            id: 1,
            name: "Mug".into(),
            price_cents: 1200
        }],
        "a created product must be stored in the shared catalogue: call `catalogue.add(...)` \
         on the `State` the router was given"
    );
    lab::graded_snapshot!(
        "products_created",
        reply.snapshot(),
        "POST /products must answer 201 with `Content-Type: application/json`, \
         `Location: /products/1` and the new product"
    );
    let second = call(
        &catalogue,
        "POST",
        "/products",
        Some(json!({"name": "Poster", "price_cents": 900})),
    )
    .await;
    second.expect_status(201, "creating a second product");
    assert_eq!(
        second.location(),
        Some("/products/2"),
        "each created product's `Location` names its own id: build it from the product \
         `catalogue.add` returned"
    );
    let shown = call(&catalogue, "GET", "/products/2", None).await;
    shown.expect_status(200, "reading the product at the `Location` of a 201");
    assert_eq!(
        shown.json("the product at the `Location`"),
        second.json("the created product"),
        "the `Location` of a 201 must lead to the product that was created"
    );
    // After a deletion the catalogue holds fewer products than its last id:
    // a `Location` counted from the products would name another one.
    catalogue.remove(1);
    let third = call(
        &catalogue,
        "POST",
        "/products",
        Some(json!({"name": "Sticker", "price_cents": 300})),
    )
    .await;
    third.expect_status(201, "creating a product after one was deleted");
    let created = third.json("the created product");
    let id = created["id"].as_u64().unwrap_or_default();
    assert_eq!(
        third.location().map(str::to_owned),
        Some(format!("/products/{id}")),
        "with product 1 deleted and product 2 left, a new product gets id {id}, and its \
         `Location` must say `/products/{id}`; it said {:?}. Build it from the product \
         `catalogue.add` returned (`product.id`): counting the products \
         (`catalogue.all().len()`) gives the right number only while nothing was ever deleted, \
         and then the `Location` leads the client to another product",
        third.location()
    );
    // A name already in the catalogue is still a name.
    let again = call(
        &catalogue,
        "POST",
        "/products",
        Some(json!({"name": "Sticker", "price_cents": 500})),
    )
    .await;
    again.expect_status(
        201,
        "a second product with the same name as one in the catalogue (a larger Sticker, at 500 \
         cents) is created like any other, with an id of its own: the table refuses only a \
         blank name (422), and products are told apart by their id, not their name",
    );
    // A price of 0 is still a price.
    let free = call(
        &catalogue,
        "POST",
        "/products",
        Some(json!({"name": "Free sample", "price_cents": 0})),
    )
    .await;
    free.expect_status(
        201,
        "a product at 0 cents (a free sample, a give-away) is created like any other: the table \
         refuses only a blank name (422), and `price_cents` is a `u64`, whose 0 is a price like \
         any other; a rule of your own that the table does not list refuses products the \
         catalogue must take",
    );
}

#[tokio::test]
async fn a_blank_name_is_refused_with_422_and_stores_nothing() {
    let catalogue = Catalogue::default();
    for blank in ["   ", "", "\t", "\n", " \t\r\n ", "\u{a0}", " \u{3000} "] {
        let reply = call(
            &catalogue,
            "POST",
            "/products",
            Some(json!({"name": blank, "price_cents": 100})),
        )
        .await;
        let why = if blank.chars().all(|c| c == ' ') {
            "a blank name (empty, or spaces only: check `new.name.trim().is_empty()`) is refused \
             with `error(StatusCode::UNPROCESSABLE_ENTITY, ...)`"
                .to_owned()
        } else {
            format!(
                "the name {blank:?} is blank too: tabs and newlines, and Unicode's spaces (the \
                 no-break space U+00A0, the ideographic space U+3000), are whitespace like spaces, \
                 and once trimmed it would be stored as an empty name. Check \
                 `new.name.trim().is_empty()` (`trim` removes every kind of whitespace, which \
                 `is_ascii_whitespace` does not know), and refuse it with \
                 `error(StatusCode::UNPROCESSABLE_ENTITY, ...)`"
            )
        };
        reply.expect_status(422, &why);
        reply.expect_error(
            422,
            "an error is answered as JSON too, `{\"error\": message}` with `Content-Type: \
             application/json`: use the `error` helper (a `(StatusCode, &str)` answer is \
             text/plain)",
        );
        assert!(
            catalogue.all().is_empty(),
            "a refused product must not be stored: check the name before `catalogue.add`, and \
             return the 422 without adding; the catalogue holds {:?}",
            catalogue.all()
        );
        assert!(
            reply.location().is_none(),
            "a refused request creates nothing, so it has no `Location` header"
        );
        if blank != "   " {
            continue;
        }
        // The table promises `{"error": ...}`: an error body may say more
        // (the field at fault, say), so only its `error` is snapshotted.
        let mut answer = reply.snapshot();
        answer["body"] = json!({ "error": answer["body"]["error"].take() });
        lab::graded_snapshot!(
            "products_blank_name_refused",
            answer,
            "a blank name must be answered 422 with `Content-Type: application/json` and a body \
             `{\"error\": message}`: use the `error` helper",
            { ".body.error" => "[message]" }
        );
    }
}

#[tokio::test]
async fn one_product_is_found_by_its_id_or_404() {
    let catalogue = Catalogue::default();
    catalogue.add("Mug", 1200);
    let reply = call(&catalogue, "GET", "/products/1", None).await;
    reply.expect_status(200, "reading a product that exists");
    assert_eq!(
        reply.json("the product"),
        json!({"id": 1, "name": "Mug", "price_cents": 1200}),
        "GET /products/{{id}} answers that product as JSON: `Path(id): Path<u32>`, then \
         `Json(product)`"
    );
    let reply = call(&catalogue, "GET", "/products/7", None).await;
    reply.expect_status(
        404,
        "an id that is not in the catalogue is answered 404 Not Found (not 200 with `null`): \
         match on `catalogue.find(id)` and answer `error(StatusCode::NOT_FOUND, ...)` on `None`",
    );
    let message = reply.expect_error(
        404,
        "an error is answered as JSON too, `{\"error\": message}` with `Content-Type: \
         application/json`: use the `error` helper (a `(StatusCode, &str)` answer is text/plain)",
    );
    assert_eq!(
        message, "Product not found",
        "the 404 body is `{{\"error\": \"Product not found\"}}`, as the table says"
    );
    lab::graded_snapshot!(
        "products_not_found",
        reply.snapshot(),
        "an unknown id must be answered 404 with `Content-Type: application/json` and \
         `{\"error\": \"Product not found\"}`"
    );
    // 4294967297 is 2^32 + 1, past the largest u32 id: cast with `as u32`,
    // it wraps round to 1.
    for (method, does) in [("GET", "shows"), ("DELETE", "deletes")] {
        let reply = call(&catalogue, method, "/products/4294967297", None).await;
        assert!(
            matches!(reply.status.as_u16(), 400 | 404),
            "no product has the id 4294967297, which does not even fit the catalogue's `u32` \
             ids: {method} /products/4294967297 must answer 400 (what `Path<u32>` answers for a \
             number that does not fit) or 404, and it answered {} with {:?}. An id taken as a \
             `u64` and cast with `id as u32` wraps round to 1, and the request {does} product \
             1: take the id as `Path<u32>`, the type of the catalogue's ids",
            reply.status,
            reply.text()
        );
    }
    assert_eq!(
        catalogue.find(1).map(|product| product.name),
        Some("Mug".to_owned()),
        "an id that is no product's must change nothing: DELETE /products/4294967297 removed \
         product 1 (`id as u32` wraps round); take the id as `Path<u32>`"
    );

    // With product 1 deleted, product 2 is the first of the list but keeps
    // its id.
    catalogue.add("Poster", 900);
    catalogue.remove(1);
    let reply = call(&catalogue, "GET", "/products/2", None).await;
    assert!(
        reply.status.as_u16() == 200
            && reply.json("product 2") == json!({"id": 2, "name": "Poster", "price_cents": 900}),
        "with product 1 deleted, GET /products/2 must still answer product 2, Poster; it \
         answered {} with {:?}. An id is not a place in the list: look the product up with \
         `catalogue.find(id)`, as `products[id - 1]` stops matching the ids once one is deleted",
        reply.status,
        reply.text()
    );
}

#[tokio::test]
async fn deleting_answers_204_then_404_and_other_methods_405() {
    let catalogue = Catalogue::default();
    catalogue.add("Mug", 1200);
    catalogue.add("Poster", 900);
    let reply = call(&catalogue, "DELETE", "/products/1", None).await;
    reply.expect_status(
        204,
        "deleting answers 204 No Content: return `StatusCode::NO_CONTENT`",
    );
    assert!(
        reply.body.is_empty(),
        "a 204 answer has no body, got {:?}",
        reply.text()
    );
    assert_eq!(
        catalogue.all().iter().map(|p| p.id).collect::<Vec<_>>(),
        [2],
        "DELETE /products/1 removes product 1 and only it: call `catalogue.remove(id)`"
    );
    let reply = call(&catalogue, "DELETE", "/products/1", None).await;
    reply.expect_status(
        404,
        "deleting an id that is not there is answered 404: `catalogue.remove(id)` says whether \
         it was there, answer `error(StatusCode::NOT_FOUND, ...)` when it was not",
    );
    let message = reply.expect_error(
        404,
        "an error is answered as JSON too, `{\"error\": message}` with `Content-Type: \
         application/json`: use the `error` helper (a `(StatusCode, &str)` answer is text/plain)",
    );
    assert_eq!(
        message, "Product not found",
        "the 404 body is `{{\"error\": \"Product not found\"}}`, as the table says"
    );
    for (method, path, allowed) in [
        ("PUT", "/products/2", ["GET", "DELETE"]),
        ("PATCH", "/products/2", ["GET", "DELETE"]),
        ("DELETE", "/products", ["GET", "POST"]),
    ] {
        let reply = call(
            &catalogue,
            method,
            path,
            Some(json!({"name": "Changed", "price_cents": 1})),
        )
        .await;
        reply.expect_status(
            405,
            "a route asked with a method it does not take answers 405 Method Not Allowed: give \
             each path one `.route(...)` with only its methods (`get(show).delete(remove)`), \
             with no catch-all handler",
        );
        let allow = reply
            .headers
            .get("allow")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let listed: Vec<&str> = allow.split(',').map(str::trim).collect();
        assert!(
            allowed.iter().all(|method| listed.contains(method)) && !listed.contains(&method),
            "{method} {path} answered 405 with `Allow: {allow}`: a 405 must list the methods the \
             path does take ({}), which axum's router writes itself when each path has one \
             `.route(...)` with only its methods; a handler of your own that answers 405 leaves \
             the header out, and registers the refused method as one the path takes",
            allowed.join(", ")
        );
    }
    assert_eq!(
        catalogue.all(),
        vec![Product {
            id: 2,
            name: "Poster".into(),
            price_cents: 900
        }],
        "a refused request must leave the catalogue as it was"
    );
}

#[tokio::test]
async fn malformed_requests_are_refused_by_the_extractors_and_store_nothing() {
    let catalogue = Catalogue::default();
    catalogue.add("Mug", 1200);
    let body = r#"{"name": "Poster", "price_cents": 900}"#;
    let reply = call_raw(&catalogue, "POST", "/products", Some("text/plain"), body).await;
    reply.expect_status(
        415,
        "a body that is not declared `application/json` is refused with 415 Unsupported Media \
         Type by the `Json<NewProduct>` extractor; reading the body as a `String` and parsing it \
         yourself accepts anything",
    );
    let reply = call_raw(&catalogue, "POST", "/products", None, body).await;
    reply.expect_status(
        415,
        "a body without a `Content-Type` is refused with 415 Unsupported Media Type: take the \
         body as `Json<NewProduct>`",
    );
    let reply = call_raw(
        &catalogue,
        "POST",
        "/products",
        Some("application/json"),
        r#"{"name": "Poster", "price_cents": 900"#,
    )
    .await;
    reply.expect_status(
        400,
        "a body that is not JSON at all is refused with 400 Bad Request by the \
         `Json<NewProduct>` extractor",
    );
    for shape in [
        json!({"name": "Poster"}),
        json!({"name": 5, "price_cents": 900}),
        json!({"name": "Poster", "price_cents": -900}),
    ] {
        let reply = call(&catalogue, "POST", "/products", Some(shape)).await;
        reply.expect_status(
            422,
            "JSON of the wrong shape (a field missing, or of the wrong type) is refused with 422 \
             by the `Json<NewProduct>` extractor, before the handler runs",
        );
    }
    for method in ["GET", "DELETE"] {
        let reply = call(&catalogue, method, "/products/abc", None).await;
        reply.expect_status(
            400,
            "an id that is not a number does not parse, and `Path<u32>` refuses it with 400 \
             Bad Request before the handler runs (a `Path<String>` parsed by hand would answer \
             something else)",
        );
    }
    assert_eq!(
        catalogue.all(),
        vec![Product {
            id: 1,
            name: "Mug".into(),
            price_cents: 1200
        }],
        "a refused request must leave the catalogue as it was: nothing added, nothing removed"
    );
}
