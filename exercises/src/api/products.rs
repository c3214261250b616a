//! A product catalogue served by axum: routes, methods, path and JSON
//! extraction, status codes.
//!
//! Scenario: the shop's first API, kept in memory. The routes are
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /products` | 200, every product, by id |
//! | `POST /products` with `{"name", "price_cents"}` | 201, `Location: /products/{id}`, the product; 422 `{"error": ...}` for a blank name |
//! | `GET /products/{id}` | 200, the product; 404 `{"error": "Product not found"}` |
//! | `DELETE /products/{id}` | 204; 404 as above |

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use lab::axum::extract::{Path, State};
use lab::axum::http::{StatusCode, header};
use lab::axum::response::{IntoResponse, Response};
use lab::axum::routing::get;
use lab::axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// A product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Given by the catalogue: 1, 2, 3...
    pub id: u32,
    /// What it is called.
    pub name: String,
    /// What it costs, in cents.
    pub price_cents: u64,
}

/// The body of `POST /products`.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProduct {
    /// What it is called; must not be blank (empty, or only whitespace:
    /// spaces, tabs, newlines).
    pub name: String,
    /// What it costs, in cents.
    pub price_cents: u64,
}

/// The products, shared by every request.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    products: Arc<Mutex<BTreeMap<u32, Product>>>,
}

impl Catalogue {
    /// Adds a product with the next id and returns it.
    pub fn add(&self, name: &str, price_cents: u64) -> Product {
        let mut products = self.products.lock().unwrap_or_else(|e| e.into_inner());
        let id = products.keys().next_back().map_or(1, |last| last + 1);
        let product = Product {
            id,
            name: name.to_owned(),
            price_cents,
        };
        products.insert(id, product.clone());
        product
    }

    /// Every product, by id.
    pub fn all(&self) -> Vec<Product> {
        let products = self.products.lock().unwrap_or_else(|e| e.into_inner());
        products.values().cloned().collect()
    }

    /// The product `id`, if any.
    pub fn find(&self, id: u32) -> Option<Product> {
        let products = self.products.lock().unwrap_or_else(|e| e.into_inner());
        products.get(&id).cloned()
    }

    /// Removes product `id`; `true` if it was there.
    pub fn remove(&self, id: u32) -> bool {
        let mut products = self.products.lock().unwrap_or_else(|e| e.into_inner());
        products.remove(&id).is_some()
    }
}

/// `{"error": message}` with `status`: use it for the 404 and 422 answers.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// The catalogue's routes, sharing `catalogue`.
pub fn router(catalogue: Catalogue) -> Router {
    // TODO: the four routes of the table above, each with a handler of
    // your own (`async fn list(State(catalogue): State<Catalogue>) -> ...`),
    // then `.with_state(catalogue)`.
    todo!()
}
