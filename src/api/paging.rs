//! Lists a page at a time, in `_id` order: `?limit=&after=`, where `after`
//! is the last id of the previous page. Unlike `skip`, the server jumps
//! straight to the page through the `_id` index, however deep it is.

use bson::oid::ObjectId;
use bson::{Document, RawDocumentBuf, doc};
use futures_util::TryStreamExt;
use mongodb::Collection;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::extract::parse_id;

/// The most items one page lists.
pub const MAX_PAGE: u32 = 200;
/// How many items a page lists when `?limit=` does not say.
pub(super) const DEFAULT_PAGE: u32 = 50;

/// `?limit=&after=` of a list.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// The most items to list.
    #[param(schema_with = super::routes::page_limit_schema)]
    limit: Option<u32>,
    /// The last id of the previous page.
    #[param(schema_with = super::routes::object_id_schema)]
    after: Option<String>,
}

impl Page {
    /// The checked limit, and the id to start after.
    pub fn parts(&self) -> Result<(u32, Option<ObjectId>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if limit == 0 || limit > MAX_PAGE {
            return Err(ApiError::BadRequest(format!(
                "limit must be from 1 to {MAX_PAGE}, got {limit}"
            )));
        }
        let after = self.after.as_deref().map(parse_id).transpose()?;
        Ok((limit, after))
    }
}

/// One page of the documents of `collection` that match `filter`, and the
/// id the next page starts after (`None` after the last page).
///
/// A stored document that cannot be read as a `T` (it breaks a rule of
/// [`crate::billing`]: written by another program, or before the rule was
/// added) is left out of the page and logged with its `_id`, so that one
/// bad document does not hide every one after it; the page still ends where
/// the server's did, so the next page starts after it.
pub async fn fetch<T>(
    collection: &Collection<T>,
    mut filter: Document,
    page: &Page,
) -> Result<(Vec<T>, Option<String>), ApiError>
where
    T: DeserializeOwned + Send + Sync,
{
    let (limit, after) = page.parts()?;
    if let Some(after) = after {
        filter.insert("_id", doc! { "$gt": after });
    }
    let stored: Vec<RawDocumentBuf> = collection
        .clone_with_type::<RawDocumentBuf>()
        .find(filter)
        .sort(doc! { "_id": 1 })
        .limit(i64::from(limit))
        .await?
        .try_collect()
        .await?;
    let next = if stored.len() == limit as usize {
        stored
            .last()
            .and_then(|last| last.get_object_id("_id").ok())
            .map(|id| id.to_hex())
    } else {
        None
    };
    let mut found = Vec::with_capacity(stored.len());
    for document in &stored {
        match bson::deserialize_from_slice::<T>(document.as_bytes()) {
            Ok(value) => found.push(value),
            Err(error) => tracing::error!(
                collection = collection.name(),
                id = ?document.get_object_id("_id").ok(),
                %error,
                "a stored document breaks the billing rules; it is left out of the list"
            ),
        }
    }
    Ok((found, next))
}
