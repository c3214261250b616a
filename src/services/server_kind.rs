//! Which MongoDB server the lab is talking to, and what it does differently.
//!
//! The lab runs against the embedded `secantusd-rs` by default and against a
//! real `mongod` (or Atlas) given by `MONGODB_URI`. Both speak the same
//! protocol; the embedded one has a few gaps, which the lessons avoid and
//! `lab doctor` lists, so a pipeline that works in class also works at work.

use bson::{Document, doc};
use mongodb::Client;

/// What the embedded server does differently from `mongod`, each with the
/// portable form the lessons teach.
pub const EMBEDDED_DIFFERENCES: [&str; 5] = [
    "a field path through an array of documents inside an expression (`{\"$sum\": \"$items.total\"}`) yields nothing instead of an array; use $unwind, $map or $reduce",
    "a number in a field path inside an expression (`\"$items.0.total\"`) is read as an array position, where mongod reads a field named `0` and finds nothing; take an element with $arrayElemAt",
    "$subtract between two dates is refused; count days with $dateDiff",
    "a nested projection (`{\"address\": {\"city\": 1}}`) is refused; write the dotted form `{\"address.city\": 1}`",
    "when findAndModify upserts of one new document race, several may come back without a pre-image although only one created it; to learn whether a call created the document, use update_one with upsert and read upserted_id",
];

/// A MongoDB server, as its `buildInfo` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKind {
    /// The lab's embedded server.
    Embedded {
        /// Its own version (`0.5.3-beta.196`).
        version: String,
        /// The MongoDB version whose protocol it speaks.
        speaks: String,
    },
    /// MongoDB's own server (or a service built on it, such as Atlas).
    Mongod {
        /// Its version.
        version: String,
    },
}

impl ServerKind {
    /// Reads the kind from a `buildInfo` answer.
    pub fn from_build_info(info: &Document) -> ServerKind {
        let version = info.get_str("version").unwrap_or("unknown").to_owned();
        match info.get_str("secantusVersion") {
            Ok(own) => ServerKind::Embedded {
                version: own.to_owned(),
                speaks: version,
            },
            Err(_) => ServerKind::Mongod { version },
        }
    }

    /// Asks the server behind `client`.
    pub async fn detect(client: &Client) -> mongodb::error::Result<ServerKind> {
        let info = client
            .database("admin")
            .run_command(doc! { "buildInfo": 1 })
            .await?;
        Ok(ServerKind::from_build_info(&info))
    }

    /// Where this server differs from `mongod` in ways the lessons meet.
    pub fn known_differences(&self) -> &'static [&'static str] {
        match self {
            ServerKind::Embedded { .. } => &EMBEDDED_DIFFERENCES,
            ServerKind::Mongod { .. } => &[],
        }
    }
}

impl std::fmt::Display for ServerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerKind::Embedded { version, speaks } => write!(
                f,
                "embedded secantusd-rs {version} (speaks the protocol of MongoDB {speaks})"
            ),
            ServerKind::Mongod { version } => write!(f, "mongod {version}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_server_is_told_apart_by_its_own_version_field() {
        let embedded = ServerKind::from_build_info(&doc! {
            "version": "8.2.11", "secantusVersion": "0.5.3-beta.196", "ok": 1,
        });
        assert_eq!(
            embedded.to_string(),
            "embedded secantusd-rs 0.5.3-beta.196 (speaks the protocol of MongoDB 8.2.11)"
        );
        assert_eq!(embedded.known_differences(), EMBEDDED_DIFFERENCES);

        let mongod = ServerKind::from_build_info(&doc! { "version": "7.0.14", "ok": 1 });
        assert_eq!(mongod.to_string(), "mongod 7.0.14");
        assert!(mongod.known_differences().is_empty());
    }
}
