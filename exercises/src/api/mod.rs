//! Lessons 07, 08 and 10: the web API, caching, and the capstone that puts
//! the whole system together. Each exercise's graded tests live once in
//! `tests/graded/api/` and are included here.

pub mod cache_aside;
pub mod cache_write_through;
pub mod capstone;
pub mod products;

#[cfg(test)]
#[path = "../../../tests/graded/api/cache_aside.rs"]
mod cache_aside_graded;
#[cfg(test)]
#[path = "../../../tests/graded/api/cache_write_through.rs"]
mod cache_write_through_graded;
#[cfg(test)]
#[path = "../../../tests/graded/api/capstone.rs"]
mod capstone_graded;
#[cfg(test)]
#[path = "../../../tests/graded/api/products.rs"]
mod products_graded;
