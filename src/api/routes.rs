//! The API's routes: one table, from which the OpenAPI document is made and
//! against which the router is tested.

use serde_json::{Value, json};

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The path, with `{id}` for an ObjectId.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The schema of its JSON body, if it takes one.
    pub body: Option<&'static str>,
    /// The status codes it answers with.
    pub statuses: &'static [u16],
}

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    statuses: &'static [u16],
) -> Route {
    Route {
        method,
        path,
        summary,
        body,
        statuses,
    }
}

/// Every route of the billing API.
pub const ROUTES: &[Route] = &[
    route("GET", "/", "The list of routes", None, &[200]),
    route(
        "GET",
        "/health",
        "Whether MongoDB and Redis answer",
        None,
        &[200, 503],
    ),
    route(
        "GET",
        "/metrics",
        "Request, cache and job counters, in the OpenMetrics text format Prometheus scrapes",
        None,
        &[200],
    ),
    route("GET", "/openapi.json", "This document", None, &[200]),
    route(
        "POST",
        "/customers",
        "Create a customer",
        Some("NewCustomer"),
        &[201, 400, 409, 413, 415, 422, 503],
    ),
    route(
        "GET",
        "/customers",
        "List customers in id order, a page at a time",
        None,
        &[200, 400, 503],
    ),
    route(
        "GET",
        "/customers/{id}",
        "One customer, from the cache when it has it",
        None,
        &[200, 400, 404, 503],
    ),
    route(
        "PATCH",
        "/customers/{id}",
        "Change some of a customer's fields",
        Some("CustomerChanges"),
        &[200, 400, 404, 409, 413, 415, 422, 503],
    ),
    route(
        "DELETE",
        "/customers/{id}",
        "Delete a customer who has no invoices",
        None,
        &[204, 400, 404, 409, 503],
    ),
    route(
        "GET",
        "/customers/{id}/revenue",
        "The customer's total revenue (the course notes' aggregation)",
        None,
        &[200, 400, 404, 503],
    ),
    route(
        "GET",
        "/customers/{id}/invoices",
        "The customer's invoices in id order, a page at a time",
        None,
        &[200, 400, 404, 503],
    ),
    route(
        "POST",
        "/invoices",
        "Issue an invoice; totals and tax are computed",
        Some("NewInvoice"),
        &[201, 400, 413, 415, 422, 503],
    ),
    route(
        "GET",
        "/invoices/{id}",
        "One invoice",
        None,
        &[200, 400, 404, 503],
    ),
    route(
        "PUT",
        "/invoices/{id}/status",
        "Move an invoice to paid or overdue",
        Some("StatusChange"),
        &[200, 400, 404, 409, 413, 415, 422, 503],
    ),
    route(
        "POST",
        "/jobs",
        "Submit an analysis to run in the background (Idempotency-Key header optional)",
        Some("JobRequest"),
        &[202, 400, 409, 413, 415, 422, 503],
    ),
    route(
        "GET",
        "/jobs",
        "List jobs, newest first, optionally in one state, a page at a time",
        None,
        &[200, 400, 503],
    ),
    route(
        "GET",
        "/jobs/{id}",
        "One job; ?wait=SECONDS answers as soon as it is over",
        None,
        &[200, 400, 404, 503],
    ),
    route(
        "GET",
        "/jobs/{id}/result",
        "The job's result, once it has succeeded",
        None,
        &[200, 400, 404, 409, 503],
    ),
    route(
        "POST",
        "/jobs/{id}/cancel",
        "Cancel a job that has not finished",
        None,
        &[200, 400, 404, 409, 503],
    ),
    route(
        "GET",
        "/jobs/{id}/events",
        "Server-Sent Events: state changes, progress, webhook attempts; resumable with Last-Event-ID",
        None,
        &[200, 400, 404, 503],
    ),
];

/// The query parameters of a route: name, JSON schema.
fn query_parameters(method: &str, path: &str) -> Vec<(&'static str, Value)> {
    let limit = json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 50});
    let id = json!({"type": "string", "pattern": "^[0-9a-fA-F]{24}$"});
    match (method, path) {
        ("GET", "/customers" | "/customers/{id}/invoices") => {
            vec![("limit", limit), ("after", id)]
        }
        ("GET", "/jobs") => vec![
            (
                "state",
                json!({"type": "string", "enum": ["queued", "running", "waiting_retry", "succeeded", "failed", "cancelled"]}),
            ),
            ("limit", limit),
            ("after", id),
        ],
        ("GET", "/jobs/{id}") => vec![(
            "wait",
            json!({"type": "integer", "minimum": 0, "maximum": super::jobs::MAX_WAIT}),
        )],
        ("GET", "/jobs/{id}/events") => vec![("after", json!({"type": "string"}))],
        _ => Vec::new(),
    }
}

fn describe(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created; Location names the new resource",
        202 => "Accepted; Location names the job to follow",
        204 => "Deleted",
        400 => "A malformed id, query or JSON body",
        401 => "A write without the lab's API key (Authorization: Bearer ...)",
        421 => "The Host header names a host that is not the lab's",
        404 => "Not found",
        409 => "Conflicts with what is stored",
        413 => "The body is too large",
        415 => "The body is not declared as JSON",
        422 => "A field breaks a rule; `field` names it",
        503 => "MongoDB or Redis is unavailable",
        _ => "",
    }
}

fn schemas() -> Value {
    let address = json!({
        "type": "object", "additionalProperties": false,
        "required": ["street", "city", "state", "zip"],
        "properties": {
            "street": {"type": "string"}, "city": {"type": "string"},
            "state": {"type": "string", "pattern": "^[A-Z]{2}$"},
            "zip": {"type": "string", "pattern": "^[0-9]{5}(-[0-9]{4})?$"},
        },
    });
    let money =
        json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,2})?$", "examples": ["125.35"]});
    let status = json!({"type": "string", "enum": ["pending", "paid", "overdue"]});
    json!({
        "Address": address,
        "Money": money,
        "Status": status,
        "Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "string"}, "field": {"type": "string"}, "message": {"type": "string"},
        }},
        "Customer": {"type": "object", "properties": {
            "_id": {"type": "string"}, "name": {"type": "string"}, "email": {"type": "string"},
            "phone": {"type": "string"}, "address": {"$ref": "#/components/schemas/Address"},
            "created_at": {"type": "string", "format": "date-time"},
        }},
        "CustomerLookup": {"type": "object", "properties": {
            "source": {"type": "string", "enum": ["cache", "database"]},
            "customer": {"$ref": "#/components/schemas/Customer"},
        }},
        "NewCustomer": {"type": "object", "additionalProperties": false,
            "required": ["name", "email", "phone", "address"], "properties": {
            "name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"},
            "address": {"$ref": "#/components/schemas/Address"},
        }},
        "CustomerChanges": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
            "name": {"type": "string"}, "email": {"type": "string"}, "phone": {"type": "string"},
            "address": {"$ref": "#/components/schemas/Address"},
        }},
        "NewInvoice": {"type": "object", "additionalProperties": false,
            "required": ["customer_id", "items"], "properties": {
            "customer_id": {"type": "string"},
            "items": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": false,
                "required": ["description", "quantity", "unit_price"], "properties": {
                "description": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
                "unit_price": {"$ref": "#/components/schemas/Money"},
            }}},
            "invoice_date": {"type": "string", "format": "date-time"},
            "due_date": {"type": "string", "format": "date-time"},
            "status": {"$ref": "#/components/schemas/Status"},
        }},
        "JobRequest": {"type": "object", "additionalProperties": false, "required": ["kind"], "properties": {
            "kind": {"type": "string", "enum": crate::jobs::kinds::KINDS},
            "params": {"type": "object"},
            "max_attempts": {"type": "integer", "minimum": 1, "maximum": super::jobs::MAX_ATTEMPTS},
            "webhook": {"type": "string", "pattern": "^http://"},
        }},
        "StatusChange": {"type": "object", "additionalProperties": false, "required": ["status"], "properties": {
            "status": {"$ref": "#/components/schemas/Status"},
        }},
    })
}

/// The OpenAPI 3.1 document of [`ROUTES`].
pub fn openapi_document() -> Value {
    let mut paths = serde_json::Map::new();
    for route in ROUTES {
        let mut operation = json!({ "summary": route.summary });
        let mut parameters = Vec::new();
        if route.path.contains("{id}") {
            parameters.push(json!({
                "name": "id", "in": "path", "required": true,
                "schema": {"type": "string", "pattern": "^[0-9a-fA-F]{24}$"},
            }));
        }
        for (name, schema) in query_parameters(route.method, route.path) {
            parameters.push(json!({"name": name, "in": "query", "schema": schema}));
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = route.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}},
            });
        }
        let mut responses = serde_json::Map::new();
        // What the guard answers before any handler (see `api::guard`):
        // writes without the key, and requests naming another host.
        let writes = route.method != "GET";
        if writes {
            operation["security"] = json!([{ "labKey": [] }]);
        }
        let guarded = writes.then_some(&401).into_iter().chain([&421]);
        for status in route.statuses.iter().chain(guarded) {
            let mut response = json!({ "description": describe(*status) });
            if *status >= 400 {
                response["content"] =
                    json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
            }
            responses.insert(status.to_string(), response);
        }
        operation["responses"] = Value::Object(responses);
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Billing API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Customers and invoices in MongoDB, with Redis in front of GET /customers/{id}; analyses run in the background as jobs queued in Redis.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "labKey": {"type": "http", "scheme": "bearer", "description": "The key `lab up` prints and `lab env` exports as LAB_API_KEY"},
            },
        },
    })
}
