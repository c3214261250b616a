//! The corpus of answers that prove the graded suites catch mistakes.
//!
//! `exercises/corpus/<exercise id>.toml` holds answers written as edits of
//! the answer key: each **wrong** answer makes one realistic mistake (two
//! commands where one is asked, work in Rust that the lesson does in the
//! database, a race) and names the test that must fail and a phrase its
//! message must contain, so the suite is shown to catch the mistake *and*
//! to say why; each **alternative** answer is correct but written
//! differently from the key, and must keep full marks.
//!
//! `lab check-exercises` writes every answer into one generated crate, a
//! module per answer with the exercise's graded suite beside it, compiles
//! it once and runs each answer's tests: one build for the whole corpus,
//! however large it grows.
//!
//! - `answers.rs`: the corpus files, read ([`Corpus`]).
//! - `generated.rs`: the generated crate: each answer is the key with its
//!   edits, in a module of its own beside its exercise's suite.
//! - `grade.rs`: one build, every answer graded, each [`Verdict`] judged.

mod answers;
mod generated;
mod grade;

pub use answers::{Answer, Corpus, CorpusError, Edit, Kind};
pub use grade::{Verdict, grade};
