//! The API's OpenAPI document, gathered by `utoipa` from the
//! `#[utoipa::path]` attribute on each handler (method, path, summary,
//! parameters, body, status codes) and the `ToSchema` types of the bodies,
//! and the list of routes `GET /` shows, read back from that document.
//!
//! Nothing here lists the routes a second time: a handler missing from
//! [`ApiDoc`]'s `paths(...)`, or described with another method or path than
//! the router gives it, fails the test that asks the router for every route
//! of the document (`tests/api.rs`) or the one below that compares the
//! document's paths with the router's.
//!
//! What every operation shares is added once, by [`Shared`]: what each
//! status code means, the JSON error body, and the answers of the guard that
//! runs before any handler ([`super::guard`]).

use std::sync::LazyLock;

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, Response};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use super::{customers, invoices, jobs, ops};
use crate::billing::json::CustomerJson;

/// The billing API's OpenAPI 3.1 document: `ApiDoc::openapi()`, or
/// [`document`] for the copy built once.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Billing API",
        description = "Customers and invoices in MongoDB, with Redis in front of GET /customers/{id}; analyses run in the background as jobs queued in Redis."
    ),
    paths(
        ops::index,
        ops::health,
        ops::metrics,
        ops::openapi,
        customers::create,
        customers::list,
        customers::get,
        customers::update,
        customers::delete,
        customers::revenue,
        invoices::of_customer,
        invoices::create,
        invoices::get,
        invoices::set_status,
        jobs::submit,
        jobs::list,
        jobs::get,
        jobs::result,
        jobs::cancel,
        jobs::stream::events,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "ops", description = "The service itself: health, metrics, this document"),
        (name = "customers", description = "Customers in MongoDB, read through the Redis cache"),
        (name = "invoices", description = "Invoices, with totals and tax computed"),
        (name = "jobs", description = "Analyses queued in Redis and run by the worker"),
    ),
    modifiers(&Shared)
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: LazyLock<Document> = LazyLock::new(ApiDoc::openapi);
    &DOCUMENT
}

/// One route of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The path, with `{id}` where an id goes.
    pub path: String,
    /// What it does.
    pub summary: String,
}

/// Every route of the document: paths in the order [`ApiDoc`] lists their
/// handlers, and the methods of a path in the order create, read, update,
/// delete (`POST`, `GET`, `PUT`, `PATCH`, `DELETE`).
pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    document()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            operations(item).map(|(method, operation)| Route {
                method,
                path: path.clone(),
                summary: operation.summary.clone().unwrap_or_default(),
            })
        })
        .collect()
});

/// The body of every error answer.
// What `ApiError::into_response` writes: the document describes it here,
// since the error writes its JSON without a type.
#[derive(Debug, Clone, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// With 422: the field at fault (`address.zip`, `items[0].quantity`).
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// With 422: what is wrong with that field.
    #[schema(nullable = false)]
    pub message: Option<String>,
    /// With a 503 for a write whose answer was lost: where the new resource
    /// is if the write was made after all, to look at before sending the
    /// request again.
    #[schema(nullable = false)]
    pub location: Option<String>,
}

/// The answer of `GET /customers/{id}`: where the customer was read, and
/// the customer.
// The handler writes it as text around the customer's cached JSON, not
// through this type, which only describes it.
#[derive(Debug, Clone, ToSchema)]
pub struct CustomerLookup {
    /// Where the customer was read.
    pub source: LookupSource,
    /// The customer.
    pub customer: CustomerJson<'static>,
}

/// Where `GET /customers/{id}` read the customer.
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum LookupSource {
    /// The Redis cache.
    Cache,
    /// MongoDB, on a miss.
    Database,
}

/// `{id}` in a path: an ObjectId, 24 hexadecimal digits (a job's id too).
#[derive(Debug, Clone, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IdParam {
    /// The id, 24 hexadecimal digits.
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    pub id: String,
}

/// The schema of an `after` cursor: the last id of the previous page.
pub fn object_id_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[0-9a-fA-F]{24}$"))
        .into()
}

/// The schema of `?limit=`: 1 to [`super::paging::MAX_PAGE`] items, 50 by
/// default.
pub fn page_limit_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(super::paging::MAX_PAGE))
        .default(Some(super::paging::DEFAULT_PAGE.into()))
        .into()
}

/// The schema of `?wait=`: 0 to [`jobs::MAX_WAIT`] seconds.
pub fn wait_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(jobs::MAX_WAIT))
        .into()
}

/// The schema of a job's `kind`: one of [`crate::jobs::kinds::KINDS`].
pub fn job_kind_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(crate::jobs::kinds::KINDS))
        .into()
}

/// The schema of a job's `max_attempts`: 1 to [`jobs::MAX_ATTEMPTS`].
pub fn max_attempts_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(jobs::MAX_ATTEMPTS))
        .into()
}

/// The schema of `?state=`: the name of a [`crate::jobs::JobState`].
pub fn job_state_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(crate::jobs::JobState::ALL.map(|state| state.as_str())))
        .into()
}

/// What every operation shares, added to the document after the handlers'
/// attributes: a description of each status code, the JSON [`ErrorBody`]
/// of every refusal, and what the guard answers before any handler (401 to
/// a write without the lab's key, 421 to a request naming another host).
#[derive(Debug, Clone, Copy)]
pub struct Shared;

impl Modify for Shared {
    fn modify(&self, document: &mut Document) {
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "labKey",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "The key `lab up` prints and `lab env` exports as LAB_API_KEY",
                        ))
                        .build(),
                ),
            );
        for item in document.paths.paths.values_mut() {
            for (method, operation) in operations_mut(item) {
                share(method, operation);
            }
        }
    }
}

/// Adds to one operation what [`Shared`] says every operation has.
fn share(method: &str, operation: &mut Operation) {
    // Handlers' names repeat between modules (`create`, `get`), and an
    // operation id must be unique: prefix the module, which is the tag.
    let tag = operation.tags.as_ref().and_then(|tags| tags.first());
    if let (Some(id), Some(tag)) = (&mut operation.operation_id, tag) {
        *id = format!("{tag}_{id}");
    }
    let responses = &mut operation.responses.responses;
    if method != "GET" {
        operation.security = Some(vec![SecurityRequirement::new(
            "labKey",
            Vec::<String>::new(),
        )]);
        responses
            .entry("401".to_owned())
            .or_insert_with(|| RefOr::T(Response::new("")));
    }
    responses
        .entry("421".to_owned())
        .or_insert_with(|| RefOr::T(Response::new("")));
    for (status, response) in responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let code: u16 = status.parse().unwrap_or_default();
        if response.description.is_empty() {
            response.description = describe(code).to_owned();
        }
        if code >= 400 && response.content.is_empty() {
            response.content.insert(
                "application/json".to_owned(),
                RefOr::T(Content::new(Some(Ref::from_schema_name("Error")))),
            );
        }
    }
}

/// What `status` means on any route of this API.
fn describe(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created; Location names the new resource",
        202 => "Accepted; Location names the job to follow",
        204 => "Deleted",
        400 => "A malformed id, query or JSON body",
        401 => "A write without the lab's API key (Authorization: Bearer ...)",
        404 => "Not found",
        409 => "Conflicts with what is stored",
        413 => "The body is too large",
        415 => "The body is not declared as JSON",
        421 => "The Host header names a host that is not the lab's",
        422 => "A field breaks a rule; `field` names it",
        503 => "MongoDB or Redis is unavailable; with `location`, a write that may have been made",
        _ => "See the body",
    }
}

/// The operations of a path, with their methods, in the order create,
/// read, update, delete.
fn operations(item: &PathItem) -> impl Iterator<Item = (&'static str, &Operation)> {
    [
        ("POST", &item.post),
        ("GET", &item.get),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
        ("TRACE", &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_ref().map(|operation| (method, operation)))
}

/// [`operations`], to change.
fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("POST", &mut item.post),
        ("GET", &mut item.get),
        ("PUT", &mut item.put),
        ("PATCH", &mut item.patch),
        ("DELETE", &mut item.delete),
        ("HEAD", &mut item.head),
        ("OPTIONS", &mut item.options),
        ("TRACE", &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.as_mut().map(|operation| (method, operation)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The paths `router()` registers, read from its source: axum cannot
    /// list a router's routes, and a path served but missing from the
    /// document must fail a test.
    fn router_paths() -> BTreeSet<String> {
        let source = include_str!("mod.rs");
        source
            .split(".route(")
            .skip(1)
            .map(|call| {
                let call = call.trim_start();
                let literal = call
                    .strip_prefix('"')
                    .and_then(|rest| rest.split_once('"'))
                    .unwrap_or_else(|| panic!("a route's path is not a literal: {call:.60}"));
                literal.0.to_owned()
            })
            .collect()
    }

    #[test]
    fn the_document_describes_every_path_the_router_serves_and_no_other() {
        let described: BTreeSet<String> = document().paths.paths.keys().cloned().collect();
        assert_eq!(described, router_paths());
    }

    #[test]
    fn every_operation_has_a_summary_an_id_and_described_answers() {
        let mut ids = BTreeSet::new();
        for (path, item) in &document().paths.paths {
            for (method, operation) in operations(item) {
                let route = format!("{method} {path}");
                assert!(operation.summary.is_some(), "{route} has a summary");
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(
                    ids.insert(id.clone()),
                    "{route}: operation id {id} is unique"
                );
                let responses = &operation.responses.responses;
                assert!(responses.contains_key("421"), "{route}: the guard's 421");
                assert_eq!(
                    responses.contains_key("401"),
                    method != "GET",
                    "{route}: 401"
                );
                for (status, response) in responses {
                    let RefOr::T(response) = response else {
                        panic!("{route} {status} is inline");
                    };
                    assert!(!response.description.is_empty(), "{route} {status}");
                }
            }
        }
        assert_eq!(ROUTES.len(), ids.len());
    }

    #[test]
    fn the_document_is_openapi_3_1_with_its_schemas() {
        let json = serde_json::to_value(document()).unwrap();
        assert_eq!(json["openapi"], "3.1.0");
        let schemas = &json["components"]["schemas"];
        for name in [
            "Error",
            "NewCustomer",
            "NewInvoice",
            "StatusChange",
            "JobRequest",
        ] {
            assert!(schemas[name].is_object(), "schema {name}");
        }
        assert_eq!(
            json["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/JobRequest"
        );
    }
}
