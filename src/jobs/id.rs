//! [`JobId`]: the id of a job, parsed once where it comes in (the API's
//! path, `lab jobs`'s arguments) and typed from there to the queue, the
//! worker and the results.
//!
//! An id is what [`JobQueue::submit`](super::JobQueue::submit) draws: a
//! MongoDB ObjectId in lower-case hex, 24 digits. Its text is its stored
//! form: in JSON it is a plain string (serde goes through `String`) and in Redis
//! keys it is written with [`Display`](std::fmt::Display), byte for byte as
//! before the type existed.

use std::fmt;
use std::str::FromStr;

/// How many characters a job id has.
pub const JOB_ID_LEN: usize = 24;

/// The id of a job: 24 lower-case hexadecimal digits, such as
/// `65a1b2c3d4e5f60718293a4b`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// A new id, as a submission draws one: a fresh ObjectId's hex, so ids
    /// grow with submission time (keyset paging relies on it).
    pub fn generate() -> JobId {
        JobId(bson::oid::ObjectId::new().to_hex())
    }

    /// An id read back from the queue's own data (a ready queue, a claim, a
    /// dead-letter list): only [`JobQueue::submit`](super::JobQueue::submit)
    /// writes ids there, so they are taken as they are. Checking them again
    /// would only turn a hand-edited Redis into jobs nobody can claim.
    pub(crate) fn stored(text: String) -> JobId {
        JobId(text)
    }

    /// The id's text, as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<bson::oid::ObjectId> for JobId {
    /// The job id written as `id`'s hex: every ObjectId is one (an id
    /// the API has parsed as an ObjectId names a job this way).
    fn from(id: bson::oid::ObjectId) -> JobId {
        JobId(id.to_hex())
    }
}

/// In a Redis command an id is its text, as in the queue's keys and sets.
impl redis::ToRedisArgs for JobId {
    fn write_redis_args<W>(&self, out: &mut W)
    where
        W: ?Sized + redis::RedisWrite,
    {
        out.write_arg(self.0.as_bytes());
    }
}

impl redis::ToSingleRedisArg for JobId {}

/// In MongoDB an id is its text, as in a result's `job_id`.
impl From<JobId> for bson::Bson {
    fn from(id: JobId) -> bson::Bson {
        bson::Bson::String(id.0)
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

impl TryFrom<String> for JobId {
    type Error = JobIdError;

    fn try_from(text: String) -> Result<JobId, JobIdError> {
        text.parse()
    }
}

impl FromStr for JobId {
    type Err = JobIdError;

    /// Upper-case digits are taken too and stored in lower case: the API
    /// has always accepted them (an ObjectId parses either way), and the
    /// job they name is the one with the lower-case id.
    fn from_str(text: &str) -> Result<JobId, JobIdError> {
        if text.is_empty() {
            return Err(JobIdError::Empty);
        }
        if let Some(bad) = text.chars().find(|c| !c.is_ascii_hexdigit()) {
            return Err(JobIdError::NotHex {
                id: shortened(text),
                character: bad,
            });
        }
        if text.len() != JOB_ID_LEN {
            return Err(JobIdError::WrongLength {
                id: shortened(text),
                length: text.len(),
            });
        }
        Ok(JobId(text.to_ascii_lowercase()))
    }
}

/// At most 64 characters of `text`, so that an error never repeats a huge
/// input back.
fn shortened(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Text that is not a job id; each message says what one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobIdError {
    /// Nothing was given.
    #[error("a job id is needed: 24 hexadecimal digits, such as 65a1b2c3d4e5f60718293a4b")]
    Empty,
    /// A character that is not a hexadecimal digit.
    #[error(
        "{id:?} is not a job id: {character:?} is not a hexadecimal digit (a job id is 24 of 0-9 and a-f, such as 65a1b2c3d4e5f60718293a4b)"
    )]
    NotHex {
        /// The text given (its first 64 characters).
        id: String,
        /// The first character at fault.
        character: char,
    },
    /// Hexadecimal digits, too few or too many.
    #[error(
        "{id:?} is not a job id: it has {length} digits, and a job id has 24, such as 65a1b2c3d4e5f60718293a4b"
    )]
    WrongLength {
        /// The text given (its first 64 characters).
        id: String,
        /// How many digits it has.
        length: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_id_round_trips_through_its_text_and_json() {
        for _ in 0..100 {
            let id = JobId::generate();
            let text = id.to_string();
            assert_eq!(text.len(), JOB_ID_LEN);
            assert_eq!(text.parse::<JobId>(), Ok(id.clone()));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{text}\""), "a plain string in JSON");
            assert_eq!(serde_json::from_str::<JobId>(&json).unwrap(), id);
        }
    }

    #[test]
    fn an_object_id_is_a_job_id() {
        let object = bson::oid::ObjectId::new();
        assert_eq!(JobId::from(object).as_str(), object.to_hex());
    }

    #[test]
    fn upper_case_digits_name_the_lower_case_id() {
        let id: JobId = "65A1B2C3D4E5F60718293A4B".parse().unwrap();
        assert_eq!(id.as_str(), "65a1b2c3d4e5f60718293a4b");
    }

    #[test]
    fn an_empty_id_is_refused() {
        assert_eq!("".parse::<JobId>(), Err(JobIdError::Empty));
        assert!(serde_json::from_str::<JobId>("\"\"").is_err());
    }

    #[test]
    fn ids_too_short_or_too_long_are_refused() {
        for (text, length) in [("65a1b2c3", 8), ("65a1b2c3d4e5f60718293a4b0", 25)] {
            assert_eq!(
                text.parse::<JobId>(),
                Err(JobIdError::WrongLength {
                    id: text.to_owned(),
                    length
                })
            );
        }
        let huge = "a".repeat(10_000);
        let error = huge.parse::<JobId>().unwrap_err();
        assert!(error.to_string().len() < 200, "{error}");
    }

    #[test]
    fn ids_with_other_characters_are_refused() {
        for (text, character) in [
            ("65a1b2c3d4e5f60718293a4g", 'g'),
            ("no-such-job", 'n'),
            ("65a1b2c3d4e5f607 8293a4b", ' '),
            ("../../etc/passwd", '.'),
            ("65a1b2c3d4e5f60718293a4é", 'é'),
        ] {
            assert_eq!(
                text.parse::<JobId>(),
                Err(JobIdError::NotHex {
                    id: text.to_owned(),
                    character
                }),
                "{text}"
            );
        }
        let error = "job-1".parse::<JobId>().unwrap_err().to_string();
        assert!(
            error.contains("24") && error.contains("hexadecimal"),
            "{error}"
        );
    }
}
