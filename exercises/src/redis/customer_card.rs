//! Hashes and JSON: one customer stored two ways.
//!
//! Scenario: the customer page shows a small card: name, email, city. Redis
//! has no JSON type, so the team tries both ways of keeping the card: a
//! JSON string, and a hash with one field per attribute. Write both, and a
//! partial update that only the hash makes cheap.

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
pub async fn save_as_json(redis: &mut ConnectionManager, card: &CustomerCard) -> RedisResult<()> {
    // TODO: serialise with serde_json and SET the string.
    todo!()
}

/// The card stored as JSON for customer `id`, if any. A GET that Redis
/// refuses is an error, not `None`.
pub async fn load_from_json(
    redis: &mut ConnectionManager,
    id: u32,
) -> RedisResult<Option<CustomerCard>> {
    // TODO: GET the string and deserialise it.
    todo!()
}

/// Stores `card` as a hash under `customer:{id}`, with the fields `name`,
/// `email` and `city`, each value as given (capitals and spaces included).
pub async fn save_as_hash(redis: &mut ConnectionManager, card: &CustomerCard) -> RedisResult<()> {
    // TODO: HSET the three fields.
    todo!()
}

/// Changes only the email of the hash of customer `id`, to `email` as given.
pub async fn change_email(redis: &mut ConnectionManager, id: u32, email: &str) -> RedisResult<()> {
    // TODO: one field, one command.
    todo!()
}

/// The card stored as a hash for customer `id`, if the hash exists and has
/// every field.
pub async fn load_from_hash(
    redis: &mut ConnectionManager,
    id: u32,
) -> RedisResult<Option<CustomerCard>> {
    // TODO: HGETALL, then build the card.
    todo!()
}
