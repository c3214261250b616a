//! Lessons 04 to 06: MongoDB. As for Redis, each exercise's graded tests
//! live once in `tests/graded/mongodb/` and are included here.

pub mod crud;
pub mod indexes;
pub mod modelling;
pub mod pipelines;

#[cfg(test)]
#[path = "../../../tests/graded/mongodb/crud.rs"]
mod crud_graded;
#[cfg(test)]
#[path = "../../../tests/graded/mongodb/indexes.rs"]
mod indexes_graded;
#[cfg(test)]
#[path = "../../../tests/graded/mongodb/modelling.rs"]
mod modelling_graded;
#[cfg(test)]
#[path = "../../../tests/graded/mongodb/pipelines.rs"]
mod pipelines_graded;
