//! `/customers`: create, read (through the cache), list, update, delete, and
//! the revenue report of one customer.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bson::oid::ObjectId;
use bson::{DateTime, Document, doc};
use mongodb::options::ReturnDocument;
use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, is_duplicate_key};
use super::extract::{IdPath, JsonBody, QueryParams};
use super::paging::{self, Page};
use super::routes::{CustomerLookup, IdParam};
use crate::billing::customer::canonical_email;
use crate::billing::deletions;
use crate::billing::json::CustomerJson;
use crate::billing::{Address, CustomerFields, Valid};
use crate::cache::{CustomerCache, Lookup};

/// An address in a request body: every field required, no others.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressBody {
    street: String,
    city: String,
    /// A two-letter US state code.
    #[schema(pattern = "^[A-Z]{2}$")]
    state: String,
    /// A US ZIP code, five digits or ZIP+4.
    #[schema(pattern = "^[0-9]{5}(-[0-9]{4})?$")]
    zip: String,
}

impl From<AddressBody> for Address {
    fn from(body: AddressBody) -> Address {
        Address {
            street: body.street,
            city: body.city,
            state: body.state,
            zip: body.zip,
        }
    }
}

/// `POST /customers`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    name: String,
    email: String,
    phone: String,
    address: AddressBody,
}

/// `PATCH /customers/{id}`: the fields to change.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct CustomerChanges {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    address: Option<AddressBody>,
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A 201 with `Location` and a JSON body.
pub(super) fn created_json(location: String, body: String) -> Response {
    let mut headers = HeaderMap::new();
    if let Ok(value) = location.parse() {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    (StatusCode::CREATED, headers, body).into_response()
}

fn duplicate_email(email: &str) -> ApiError {
    ApiError::Conflict(format!("a customer with email {email:?} already exists"))
}

/// `POST /customers` → 201 with `Location` and the customer.
#[utoipa::path(
    post,
    path = "/customers",
    summary = "Create a customer",
    request_body = NewCustomer,
    responses(
        (status = 201, body = CustomerJson),
        (status = 400), (status = 408), (status = 409), (status = 413), (status = 415), (status = 422), (status = 503),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<NewCustomer>,
) -> Result<Response, ApiError> {
    let customer = Valid::check(CustomerFields {
        id: ObjectId::new(),
        name: body.name,
        email: canonical_email(&body.email),
        phone: body.phone,
        address: body.address.into(),
        created_at: DateTime::now(),
    })?;
    // Invalidated too: a lookup of this id may have been cached as "not found".
    let customers = state.customers();
    let stored = customer.clone();
    let written = state
        .cache
        .write(
            customer.id,
            async move { customers.insert_one(&stored).await },
        )
        .await;
    let location = format!("/customers/{}", customer.id);
    match written {
        Ok(_) => {}
        Err(error) if is_duplicate_key(&error) => return Err(duplicate_email(&customer.email)),
        Err(error) => return Err(ApiError::from_write(error, location)),
    }
    Ok(created_json(
        location,
        CustomerJson::of(&customer).to_json(),
    ))
}

/// `GET /customers/{id}` → `{"source": "cache" | "database", "customer": {...}}`.
#[utoipa::path(
    get,
    path = "/customers/{id}",
    summary = "One customer, from the cache when it has it",
    params(IdParam),
    responses(
        (status = 200, body = CustomerLookup),
        (status = 400), (status = 404),
        (status = 500, description = "the stored customer breaks the billing rules (written by another program)"),
        (status = 503),
    )
)]
pub async fn get(
    State(cache): State<CustomerCache>,
    IdPath(id): IdPath,
) -> Result<Response, ApiError> {
    let lookup = cache
        .get(id)
        .await
        .map_err(|error| ApiError::from_database(&error.source, &error))?;
    match lookup {
        Lookup::Found { json, source } => {
            let source = match source {
                crate::cache::Source::Cache => "cache",
                crate::cache::Source::Database => "database",
            };
            // The cached text is already the customer's JSON: embed it as is.
            let body = format!("{{\"source\":\"{source}\",\"customer\":{json}}}");
            Ok(json_response(StatusCode::OK, body))
        }
        Lookup::Missing { .. } => Err(ApiError::NotFound("Customer not found")),
    }
}

/// `GET /customers?limit=&after=` → a page in id order, and where the next
/// one starts (`null` after the last).
#[utoipa::path(
    get,
    path = "/customers",
    summary = "List customers in id order, a page at a time",
    params(Page),
    responses((status = 200), (status = 400), (status = 503))
)]
pub async fn list(
    State(state): State<ApiState>,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (found, next) = paging::fetch(&state.customers(), bson::Document::new(), &page).await?;
    let customers: Vec<CustomerJson<'_>> = found.iter().map(CustomerJson::of).collect();
    Ok(Json(
        serde_json::json!({ "customers": customers, "next": next }),
    ))
}

/// `PATCH /customers/{id}` → the customer as changed.
#[utoipa::path(
    patch,
    path = "/customers/{id}",
    summary = "Change some of a customer's fields",
    params(IdParam),
    request_body = CustomerChanges,
    responses(
        (status = 200, body = CustomerJson),
        (status = 400), (status = 404), (status = 408), (status = 409), (status = 413), (status = 415),
        (status = 422), (status = 503),
    )
)]
pub async fn update(
    State(state): State<ApiState>,
    IdPath(id): IdPath,
    JsonBody(changes): JsonBody<CustomerChanges>,
) -> Result<Response, ApiError> {
    if changes.name.is_none()
        && changes.email.is_none()
        && changes.phone.is_none()
        && changes.address.is_none()
    {
        return Err(ApiError::invalid(
            "body",
            "give at least one field to change: name, email, phone or address",
        ));
    }
    // The stored document is read only to check the changed customer as a
    // whole; the write below sets the named fields alone, in one
    // `findAndModify`, so a concurrent change of another field is kept.
    let current = state
        .customers()
        .find_one(doc! { "_id": id })
        .await?
        .ok_or(ApiError::NotFound("Customer not found"))?
        .into_inner();
    let named = (
        changes.name.is_some(),
        changes.email.is_some(),
        changes.phone.is_some(),
        changes.address.is_some(),
    );
    let changed = Valid::check(CustomerFields {
        name: changes.name.unwrap_or(current.name),
        email: changes
            .email
            .as_deref()
            .map_or(current.email, canonical_email),
        phone: changes.phone.unwrap_or(current.phone),
        address: changes.address.map_or(current.address, Address::from),
        ..current
    })?;
    let mut set = Document::new();
    if named.0 {
        set.insert("name", &changed.name);
    }
    if named.1 {
        set.insert("email", &changed.email);
    }
    if named.2 {
        set.insert("phone", &changed.phone);
    }
    if named.3 {
        set.insert(
            "address",
            doc! {
                "street": &changed.address.street,
                "city": &changed.address.city,
                "state": &changed.address.state,
                "zip": &changed.address.zip,
            },
        );
    }
    let customers = state.customers();
    let written = state
        .cache
        .write(id, async move {
            customers
                .find_one_and_update(doc! { "_id": id }, doc! { "$set": set })
                .return_document(ReturnDocument::After)
                .await
        })
        .await;
    let stored = match written {
        Ok(stored) => stored,
        Err(error) if is_duplicate_key(&error) => return Err(duplicate_email(&changed.email)),
        Err(error) => return Err(error.into()),
    };
    let stored = stored.ok_or(ApiError::NotFound("Customer not found"))?;
    Ok(json_response(
        StatusCode::OK,
        CustomerJson::of(&stored).to_json(),
    ))
}

/// `DELETE /customers/{id}` → 204. A customer with invoices is kept (409):
/// billing history must not point at nobody.
#[utoipa::path(
    delete,
    path = "/customers/{id}",
    summary = "Delete a customer who has no invoices",
    params(IdParam),
    responses((status = 204), (status = 400), (status = 404), (status = 409), (status = 503))
)]
pub async fn delete(
    State(state): State<ApiState>,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    // Announced first, so that an invoice issued meanwhile either is
    // counted below or takes itself back (`billing::deletions`).
    super::to_completion(async move {
        let deletion = deletions::announce(&state.db, id).await?;
        let announced = Instant::now();
        let deleted = delete_without_invoices(&state, id, announced).await;
        if let Err(error) = deletions::withdraw(&state.db, deletion).await {
            tracing::warn!(%error, %id, "the deletion's marker stays until it expires");
        }
        deleted
    })
    .await
}

async fn delete_without_invoices(
    state: &ApiState,
    id: ObjectId,
    announced: Instant,
) -> Result<StatusCode, ApiError> {
    let invoices = state
        .invoices()
        .count_documents(doc! { "customer_id": id })
        .await?;
    if invoices > 0 {
        return Err(ApiError::Conflict(format!(
            "the customer has {invoices} invoices and cannot be deleted"
        )));
    }
    // Past half its marker's lifetime, an invoice checked now might not
    // see the marker any more.
    if announced.elapsed() > deletions::MARKER_LIFETIME / 2 {
        return Err(ApiError::Unavailable {
            detail: format!("the deletion of customer {id} was too slow to be safe"),
        });
    }
    let customers = state.customers();
    let result = state
        .cache
        .write(
            id,
            async move { customers.delete_one(doc! { "_id": id }).await },
        )
        .await?;
    if result.deleted_count == 0 {
        return Err(ApiError::NotFound("Customer not found"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /customers/{id}/revenue` → the course notes' aggregation for one
/// customer: `{"customer_id", "total_revenue", "invoices"}`.
#[utoipa::path(
    get,
    path = "/customers/{id}/revenue",
    summary = "The customer's total revenue (the course notes' aggregation)",
    params(IdParam),
    responses((status = 200), (status = 400), (status = 404), (status = 503))
)]
pub async fn revenue(
    State(state): State<ApiState>,
    IdPath(id): IdPath,
) -> Result<Json<serde_json::Value>, ApiError> {
    if state
        .customers()
        .count_documents(doc! { "_id": id })
        .await?
        == 0
    {
        return Err(ApiError::NotFound("Customer not found"));
    }
    let rows = crate::analysis::revenue::by_customer(&state.db, Some(id)).await?;
    let (total, invoices) = rows
        .first()
        .map_or((crate::billing::Total::ZERO, 0), |row| {
            (row.total_revenue, row.invoices)
        });
    Ok(Json(serde_json::json!({
        "customer_id": id.to_hex(),
        "total_revenue": total,
        "invoices": invoices,
    })))
}
