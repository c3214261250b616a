//! Hashes and JSON: one customer stored two ways. (Answer key.)
//!
//! Scenario: the customer page shows a small card: name, email, city. The
//! team tries both ways of keeping it in Redis, which has no JSON type.

use redis::AsyncCommands;
use redis::RedisResult;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

/// What the customer page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerCard {
    /// The customer's number.
    pub id: u32,
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// City.
    pub city: String,
}

/// Stores `card` as one JSON string under `customer:{id}:json`. Saving again
/// replaces the stored card, which never expires by itself.
///
/// One value, read and written whole: simple, and nested data fits, but
/// changing one field means reading, editing and writing the whole string.
pub async fn save_as_json(redis: &mut ConnectionManager, card: &CustomerCard) -> RedisResult<()> {
    let json = serde_json::to_string(card).expect("a card always serialises");
    redis.set(format!("customer:{}:json", card.id), json).await
}

/// The card stored as JSON for customer `id`, if any. A GET that Redis
/// refuses is an error, not `None`.
pub async fn load_from_json(
    redis: &mut ConnectionManager,
    id: u32,
) -> RedisResult<Option<CustomerCard>> {
    let json: Option<String> = redis.get(format!("customer:{id}:json")).await?;
    // A value that is not a card (written by someone else) reads as absent.
    Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
}

/// Stores `card` as a hash under `customer:{id}`, one field per attribute
/// (`id` is in the key, so not repeated as a field), each value as given
/// (capitals and spaces included).
///
/// Each field can be read or changed alone; every value is a string, and
/// there is no nesting.
pub async fn save_as_hash(redis: &mut ConnectionManager, card: &CustomerCard) -> RedisResult<()> {
    let fields = [
        ("name", &card.name),
        ("email", &card.email),
        ("city", &card.city),
    ];
    redis
        .hset_multiple(format!("customer:{}", card.id), &fields)
        .await
}

/// Changes only the email of the hash of customer `id`, to `email` as given.
pub async fn change_email(redis: &mut ConnectionManager, id: u32, email: &str) -> RedisResult<()> {
    redis.hset(format!("customer:{id}"), "email", email).await
}

/// The card stored as a hash for customer `id`, if the hash exists and has
/// every field.
pub async fn load_from_hash(
    redis: &mut ConnectionManager,
    id: u32,
) -> RedisResult<Option<CustomerCard>> {
    let mut fields: std::collections::HashMap<String, String> =
        redis.hgetall(format!("customer:{id}")).await?;
    let mut take = |name: &str| fields.remove(name);
    Ok(match (take("name"), take("email"), take("city")) {
        (Some(name), Some(email), Some(city)) => Some(CustomerCard {
            id,
            name,
            email,
            city,
        }),
        _ => None,
    })
}
