//! Lessons 01 to 03: Redis. Each exercise's graded tests live once in
//! `tests/graded/redis/` and are included here, so the same tests grade the
//! exercises and the answer key.

pub mod customer_card;
pub mod expiry;
pub mod strings;
pub mod structures;

#[cfg(test)]
#[path = "../../../tests/graded/redis/customer_card.rs"]
mod customer_card_graded;
#[cfg(test)]
#[path = "../../../tests/graded/redis/expiry.rs"]
mod expiry_graded;
#[cfg(test)]
#[path = "../../../tests/graded/redis/strings.rs"]
mod strings_graded;
#[cfg(test)]
#[path = "../../../tests/graded/redis/structures.rs"]
mod structures_graded;
