//! Where a customer lives in Redis: the entry and its generation under one
//! hash tag, how long each kind of entry lasts, and what a negative entry
//! holds.

use std::time::Duration;

use bson::oid::ObjectId;

/// How long a customer stays cached.
pub const TTL: Duration = Duration::from_secs(3600);
/// How long "no such customer" stays cached.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// How long a customer's generation lasts after its last write: far longer
/// than any read that could still write a copy back (a request is given up
/// after 10 s), and nearly twice as long as an entry lasts.
pub const GENERATION_TTL: Duration = Duration::from_secs(2 * 3600);
/// What a negative entry holds.
pub(super) const MISSING: &str = "null";

/// `customer:{ID}`, the braces included: the id is the key's hash tag, so
/// on a Redis Cluster a customer's entry and generation share a slot and the
/// scripts that read one and write the other run on one node.
pub fn entry_key(id: ObjectId) -> String {
    format!("customer:{{{id}}}")
}

/// `customer:{ID}:generation`, in the slot of [`entry_key`].
pub fn generation_key(id: ObjectId) -> String {
    format!("customer:{{{id}}}:generation")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::keys::key_slot;

    #[test]
    fn a_customers_entry_and_generation_share_a_slot_and_customers_spread() {
        let ids: Vec<ObjectId> = (0..50).map(|_| ObjectId::new()).collect();
        for id in &ids {
            assert_eq!(key_slot(&entry_key(*id)), key_slot(&generation_key(*id)));
        }
        let slots: std::collections::HashSet<u16> =
            ids.iter().map(|id| key_slot(&entry_key(*id))).collect();
        assert!(
            slots.len() > 40,
            "different customers land in different slots"
        );
    }
}
