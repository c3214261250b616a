//! `/invoices`: issue an invoice, read one, list a customer's, change a
//! status along the allowed transitions.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use bson::oid::ObjectId;
use bson::{DateTime, doc};
use mongodb::options::ReturnDocument;
use serde::Deserialize;

use super::ApiState;
use super::customers::created_json;
use super::error::ApiError;
use super::extract::{IdPath, JsonBody, QueryParams};
use super::paging::{self, Page};
use super::routes::IdParam;
use crate::analysis::monthly::parse_date;
use crate::billing::deletions;
use crate::billing::json::{InvoiceJson, rfc3339};
use crate::billing::{Invoice, InvoiceDraft, InvoiceStatus, LineItem, Money};

/// Days from issue to due date when the request does not say.
pub const DEFAULT_TERMS_DAYS: i64 = 30;

/// One line of `POST /invoices`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    description: String,
    #[schema(minimum = 1)]
    quantity: i32,
    /// A decimal string such as `"50.00"` (a JSON number would be a double).
    #[schema(pattern = "^[0-9]+(\\.[0-9]{1,2})?$", example = "125.35")]
    unit_price: String,
}

/// `POST /invoices`. Tax follows the customer's state; totals are computed.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvoice {
    /// The customer's id, 24 hexadecimal digits.
    customer_id: String,
    #[schema(min_items = 1)]
    items: Vec<NewItem>,
    /// RFC 3339; now when left out.
    #[schema(format = DateTime)]
    invoice_date: Option<String>,
    /// RFC 3339; 30 days after the invoice date when left out.
    #[schema(format = DateTime)]
    due_date: Option<String>,
    status: Option<InvoiceStatus>,
}

/// `PUT /invoices/{id}/status`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    status: InvoiceStatus,
}

/// The statuses from which an invoice may become `to`: pending can become
/// paid or overdue, overdue can become paid, paid is final.
pub fn allowed_from(to: InvoiceStatus) -> &'static [InvoiceStatus] {
    match to {
        InvoiceStatus::Paid => &[InvoiceStatus::Pending, InvoiceStatus::Overdue],
        InvoiceStatus::Overdue => &[InvoiceStatus::Pending],
        InvoiceStatus::Pending => &[],
    }
}

/// Why an invoice due on `due` cannot be overdue yet.
fn not_yet_due(due: DateTime) -> String {
    let due = rfc3339(due);
    format!(
        "an invoice due on {} cannot be overdue before then",
        due.get(..10).unwrap_or(&due)
    )
}

fn date_field(field: &'static str, value: Option<&str>) -> Result<Option<DateTime>, ApiError> {
    value
        .map(|text| parse_date(field, text).map_err(ApiError::from))
        .transpose()
}

/// `POST /invoices` → 201 with `Location` and the invoice.
#[utoipa::path(
    post,
    path = "/invoices",
    summary = "Issue an invoice; totals and tax are computed",
    request_body = NewInvoice,
    responses(
        (status = 201, body = InvoiceJson),
        (status = 400), (status = 408), (status = 409), (status = 413), (status = 415), (status = 422), (status = 503),
    )
)]
pub async fn create(
    State(state): State<ApiState>,
    JsonBody(body): JsonBody<NewInvoice>,
) -> Result<Response, ApiError> {
    let customer_id = ObjectId::parse_str(&body.customer_id).map_err(|_| {
        ApiError::invalid(
            "customer_id",
            format!(
                "{:?} is not an id of 24 hexadecimal digits",
                body.customer_id
            ),
        )
    })?;
    let invoice_date =
        date_field("invoice_date", body.invoice_date.as_deref())?.unwrap_or_else(DateTime::now);
    let due_date = date_field("due_date", body.due_date.as_deref())?.unwrap_or_else(|| {
        DateTime::from_millis(invoice_date.timestamp_millis() + DEFAULT_TERMS_DAYS * 86_400_000)
    });
    let status = body.status.unwrap_or(InvoiceStatus::Pending);
    if status == InvoiceStatus::Overdue && due_date >= DateTime::now() {
        return Err(ApiError::invalid("status", not_yet_due(due_date)));
    }
    let mut items = Vec::with_capacity(body.items.len());
    for (index, item) in body.items.iter().enumerate() {
        let unit_price: Money =
            item.unit_price
                .parse()
                .map_err(|error: crate::billing::BillingError| {
                    ApiError::invalid(format!("items[{index}].unit_price"), error.to_string())
                })?;
        items.push(
            LineItem::new(&item.description, item.quantity, unit_price).map_err(|error| {
                let mut api: ApiError = error.into();
                if let ApiError::Invalid { field, .. } = &mut api {
                    *field = field.replacen("items", &format!("items[{index}]"), 1);
                }
                api
            })?,
        );
    }
    let customer = state
        .customers()
        .find_one(doc! { "_id": customer_id })
        .await?
        .ok_or_else(|| {
            ApiError::invalid("customer_id", format!("there is no customer {customer_id}"))
        })?;
    let tax_rate = crate::billing::tax::rate_for_state(&customer.address.state)?;
    let invoice = Invoice::new(
        ObjectId::new(),
        InvoiceDraft {
            customer_id,
            invoice_date,
            due_date,
            items,
            tax_rate,
            status,
        },
    )
    .map_err(|error| {
        let mut api = ApiError::from(error);
        // A due date the client did not send is the invoice date's doing.
        if body.due_date.is_none()
            && let ApiError::Invalid { field, message } = &mut api
            && field == "due_date"
        {
            *field = "invoice_date".to_owned();
            *message = format!(
                "with no due_date the invoice is due {DEFAULT_TERMS_DAYS} days after it, and \
                 that due date {message}; send a due_date"
            );
        }
        api
    })?;
    issue(state, invoice.clone()).await?;
    Ok(created_json(
        format!("/invoices/{}", invoice.id),
        serde_json::to_string(&InvoiceJson::of(&invoice)).unwrap_or_default(),
    ))
}

/// Writes `invoice`, then takes it back if its customer was deleted, or is
/// being deleted, meanwhile, or if that cannot be checked
/// (`billing::deletions`): no invoice is left pointing at nobody. The one
/// exception is an insert whose answer was lost (MongoDB cut off
/// mid-request): it is neither checked nor taken back, since it may still
/// be on its way, and the client is told where to look.
async fn issue(state: ApiState, invoice: Invoice) -> Result<(), ApiError> {
    super::to_completion(async move {
        let invoices = state.invoices();
        // A lost answer is not a refusal: the invoice may be there,
        // unchecked. It cannot safely be taken back now (the insert may
        // still be on its way), so the client is told where to look before
        // issuing it again.
        invoices
            .insert_one(&invoice)
            .await
            .map_err(|error| ApiError::from_write(error, format!("/invoices/{}", invoice.id)))?;
        // Unchecked, the invoice might outlive its customer: it goes, as
        // when the check says so, and the client is told to try again.
        let refusal = match deletions::invoice_may_stay(&state.db, invoice.customer_id).await {
            Ok(true) => return Ok(()),
            Ok(false) => ApiError::Conflict(format!(
                "customer {} was deleted, or a deletion of them was under way, while the \
                 invoice was issued; the invoice was not kept",
                invoice.customer_id
            )),
            Err(error) => error.into(),
        };
        if let Err(error) = invoices.delete_one(doc! { "_id": invoice.id }).await {
            tracing::error!(%error, invoice = %invoice.id, "an unchecked invoice could not be taken back");
            return Err(error.into());
        }
        Err(refusal)
    })
    .await
}

/// `GET /invoices/{id}`.
#[utoipa::path(
    get,
    path = "/invoices/{id}",
    summary = "One invoice",
    params(IdParam),
    responses(
        (status = 200, body = InvoiceJson), (status = 400), (status = 404),
        (status = 500, description = "the stored invoice breaks the billing rules (written by another program)"),
        (status = 503),
    )
)]
pub async fn get(
    State(state): State<ApiState>,
    IdPath(id): IdPath,
) -> Result<Json<serde_json::Value>, ApiError> {
    let invoice = stored(&state, id).await?;
    Ok(Json(
        serde_json::to_value(InvoiceJson::of(&invoice)).unwrap_or_default(),
    ))
}

/// Invoice `id` as stored: 404 when there is none, 500 when it breaks the
/// billing rules (the log names it).
async fn stored(state: &ApiState, id: ObjectId) -> Result<Invoice, ApiError> {
    state
        .invoices()
        .find_one(doc! { "_id": id })
        .await
        .map_err(|error| ApiError::from_database(&error, format!("invoice {id}: {error}")))?
        .ok_or(ApiError::NotFound("Invoice not found"))
}

/// `GET /customers/{id}/invoices?limit=&after=` → a page in id order.
#[utoipa::path(
    get,
    path = "/customers/{id}/invoices",
    summary = "The customer's invoices in id order, a page at a time",
    params(IdParam, Page),
    responses((status = 200), (status = 400), (status = 404), (status = 503))
)]
pub async fn of_customer(
    State(state): State<ApiState>,
    IdPath(customer_id): IdPath,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if state
        .customers()
        .count_documents(doc! { "_id": customer_id })
        .await?
        == 0
    {
        return Err(ApiError::NotFound("Customer not found"));
    }
    let (found, next) = paging::fetch(
        &state.invoices(),
        doc! { "customer_id": customer_id },
        &page,
    )
    .await?;
    let invoices: Vec<InvoiceJson<'_>> = found.iter().map(InvoiceJson::of).collect();
    Ok(Json(
        serde_json::json!({ "invoices": invoices, "next": next }),
    ))
}

/// `PUT /invoices/{id}/status` → the invoice with its new status; 409 for a
/// move the rules forbid (a paid invoice stays paid, an invoice is overdue
/// only once its due date has passed). The change is one
/// conditional update, so two concurrent changes cannot both win.
#[utoipa::path(
    put,
    path = "/invoices/{id}/status",
    summary = "Move an invoice to paid or overdue",
    params(IdParam),
    request_body = StatusChange,
    responses(
        (status = 200, body = InvoiceJson),
        (status = 400), (status = 404), (status = 408), (status = 409), (status = 413), (status = 415),
        (status = 422),
        (status = 500, description = "the stored invoice breaks the billing rules (written by another program)"),
        (status = 503),
    )
)]
pub async fn set_status(
    State(state): State<ApiState>,
    IdPath(id): IdPath,
    JsonBody(change): JsonBody<StatusChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let from: Vec<&str> = allowed_from(change.status)
        .iter()
        .map(|s| s.as_str())
        .collect();
    let now = DateTime::now();
    let mut filter = doc! { "_id": id, "status": { "$in": from } };
    if change.status == InvoiceStatus::Overdue {
        filter.insert("due_date", doc! { "$lt": now });
    }
    // The invoice as this change left it, from the update itself: read
    // afterwards, a change racing this one could be answered instead.
    let changed = state
        .invoices()
        .find_one_and_update(
            filter,
            doc! { "$set": { "status": change.status.as_str() } },
        )
        .return_document(ReturnDocument::After)
        .await
        .map_err(|error| {
            match ApiError::from_database(&error, format!("invoice {id}: {error}")) {
                // The change was made; the invoice it leaves cannot be shown.
                ApiError::StoredInvalid { detail, .. } => ApiError::StoredInvalid {
                    detail,
                    written: true,
                },
                other => other,
            }
        })?;
    let invoice = match changed {
        Some(invoice) => invoice,
        None => {
            let invoice = stored(&state, id).await?;
            if invoice.status != change.status {
                if change.status == InvoiceStatus::Overdue && invoice.due_date >= now {
                    return Err(ApiError::Conflict(not_yet_due(invoice.due_date)));
                }
                return Err(ApiError::Conflict(format!(
                    "an invoice that is {} cannot become {}",
                    invoice.status, change.status
                )));
            }
            invoice
        }
    };
    Ok(Json(
        serde_json::to_value(InvoiceJson::of(&invoice)).unwrap_or_default(),
    ))
}
