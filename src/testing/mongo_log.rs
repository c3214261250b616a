//! What a test's code asked MongoDB to do, through the driver's command
//! monitoring, so a graded test can tell an `aggregate` from a `find` whose
//! documents were summed in Rust, an update with `upsert` from one without,
//! and one `insert` of many documents from many inserts.
//!
//! ```no_run
//! # async fn example() {
//! # use lab::bson::doc;
//! let env = lab::testing::TestEnv::start().await;
//! let recording = env.record_mongo();
//! env.database().collection::<lab::bson::Document>("customers").find_one(doc! {}).await.unwrap();
//! let sent = recording.finish();
//! assert_eq!(sent.names(), ["find"]);
//! # }
//! ```
//!
//! The test's client reports every command it starts to the harness (the
//! driver calls the handler before the command is sent, so by the time the
//! student's call returns, all of its commands are in); only those started
//! between [`TestEnv::record_mongo`](super::TestEnv::record_mongo) and
//! [`MongoRecording::finish`] are kept. Each command is one round trip.

use std::sync::{Arc, Mutex};

use bson::{Bson, Document};
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;

/// One command the driver sent.
#[derive(Debug, Clone, PartialEq)]
pub struct MongoCommand {
    /// The command's name: `find`, `aggregate`, `insert`, `update`,
    /// `delete`, `findAndModify`, `getMore`, `count`, ...
    pub name: String,
    /// The collection it names, when it names one.
    pub collection: Option<String>,
    /// The whole command document, as sent (documents of an `insert`
    /// included).
    pub body: Document,
}

impl MongoCommand {
    /// The stage names of an `aggregate`'s pipeline (`["$match", "$group"]`).
    pub fn stages(&self) -> Vec<String> {
        self.body
            .get_array("pipeline")
            .map(|stages| {
                stages
                    .iter()
                    .filter_map(Bson::as_document)
                    .filter_map(|stage| stage.keys().next().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The statements of an `update` or `delete` (`updates` / `deletes`).
    pub fn statements(&self) -> Vec<&Document> {
        ["updates", "deletes"]
            .iter()
            .filter_map(|field| self.body.get_array(field).ok())
            .flatten()
            .filter_map(Bson::as_document)
            .collect()
    }

    /// Whether this command may create a document that matched nothing:
    /// an update statement or a `findAndModify` with `upsert: true`.
    pub fn upserts(&self) -> bool {
        let upsert = |d: &Document| d.get_bool("upsert").unwrap_or(false);
        upsert(&self.body) || self.statements().into_iter().any(upsert)
    }

    /// How many documents an `insert` carries.
    pub fn documents(&self) -> usize {
        self.body.get_array("documents").map_or(0, Vec::len)
    }

    /// The command in a line, for failure messages: `find customers`,
    /// `aggregate invoices [$match, $group]`, `update customers (upsert)`.
    pub fn display(&self) -> String {
        let mut text = self.name.clone();
        if let Some(collection) = &self.collection {
            text.push(' ');
            text.push_str(collection);
        }
        let stages = self.stages();
        if !stages.is_empty() {
            text.push_str(&format!(" [{}]", stages.join(", ")));
        }
        if self.name == "insert" {
            text.push_str(&format!(" of {} document(s)", self.documents()));
        }
        if self.upserts() {
            text.push_str(" (upsert)");
        }
        text
    }
}

/// The commands sent during a recording.
#[derive(Debug, Clone, Default)]
pub struct MongoLog {
    /// The commands, in the order they were started.
    pub commands: Vec<MongoCommand>,
}

impl MongoLog {
    /// The names of the commands, in order.
    pub fn names(&self) -> Vec<&str> {
        self.commands.iter().map(|c| c.name.as_str()).collect()
    }

    /// How many times `name` was sent.
    pub fn count(&self, name: &str) -> usize {
        self.commands.iter().filter(|c| c.name == name).count()
    }

    /// Whether `name` was sent at all.
    pub fn used(&self, name: &str) -> bool {
        self.count(name) > 0
    }

    /// The commands called `name`.
    pub fn all(&self, name: &str) -> Vec<&MongoCommand> {
        self.commands.iter().filter(|c| c.name == name).collect()
    }

    /// The pipelines sent with `aggregate`, each as its stage names.
    pub fn pipelines(&self) -> Vec<Vec<String>> {
        self.all("aggregate")
            .into_iter()
            .map(MongoCommand::stages)
            .collect()
    }

    /// Whether any command could create a document by upsert.
    pub fn upserts(&self) -> bool {
        self.commands.iter().any(MongoCommand::upserts)
    }

    /// Round trips to the server: one per command (a `getMore` for the
    /// next batch of a cursor included).
    pub fn round_trips(&self) -> usize {
        self.commands.len()
    }

    /// The commands as one line for a failure message.
    pub fn listing(&self) -> String {
        if self.commands.is_empty() {
            return "no command at all".to_owned();
        }
        let parts: Vec<String> = self.commands.iter().map(MongoCommand::display).collect();
        parts.join(", then ")
    }
}

/// Where the test client's monitoring handler puts commands: `Some` while
/// a recording runs.
#[derive(Debug, Clone, Default)]
pub(super) struct Sink(Arc<Mutex<Option<Vec<MongoCommand>>>>);

impl Sink {
    /// The driver's handler that feeds this sink.
    pub(super) fn handler(&self) -> EventHandler<CommandEvent> {
        let sink = self.clone();
        EventHandler::callback(move |event| {
            if let CommandEvent::Started(started) = event {
                let mut guard = sink.0.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(commands) = guard.as_mut() {
                    let collection = started
                        .command
                        .get_str(&started.command_name)
                        .ok()
                        .map(str::to_owned);
                    commands.push(MongoCommand {
                        name: started.command_name.clone(),
                        collection,
                        body: started.command.clone(),
                    });
                }
            }
        })
    }

    /// Starts (or restarts) recording.
    pub(super) fn start(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Vec::new());
    }

    /// Stops recording and hands over what was recorded.
    pub(super) fn take(&self) -> Vec<MongoCommand> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_default()
    }
}

/// A recording in progress, ended by [`MongoRecording::finish`].
#[derive(Debug)]
pub struct MongoRecording {
    pub(super) sink: Sink,
}

impl MongoRecording {
    /// Stops recording and returns the commands sent since the start.
    pub fn finish(self) -> MongoLog {
        MongoLog {
            commands: self.sink.take(),
        }
    }
}
