//! A test's own MongoDB database on a server shared by the test binary.

use mongodb::{Client, Database};
use tokio::sync::OnceCell;

use super::HarnessError;
use super::credentials::harness_credentials;
use super::mongo_log::Sink;
use super::names::{test_dir, unique_name};
use super::programs::harness_program;
use super::teardown::block_on_side_thread;
use crate::config::Config;
use crate::services::mongo_server::{self, MongoOptions};
use crate::services::{
    Lifetime, ManagedServer, Origin, Tool, connect_mongodb, connect_mongodb_with,
};

/// The embedded server of this test binary: started by the first test that
/// needs it, stopped by the kernel when the binary exits (it is tied to the
/// process), its folder removed by a later run.
static SHARED_SERVER: OnceCell<ManagedServer> = OnceCell::const_new();

/// A database that belongs to one test until it is dropped.
#[derive(Debug)]
pub struct MongoLease {
    uri: String,
    client: Client,
    database: Database,
    commands: Sink,
}

impl MongoLease {
    /// A new, empty database named `name`, on `MONGODB_URI` or on the
    /// binary's embedded server.
    pub async fn acquire(config: &Config, name: &str) -> Result<MongoLease, HarnessError> {
        let (uri, origin) = match &config.mongodb_uri {
            Some(uri) => (uri.clone(), Origin::Variable("MONGODB_URI")),
            None => (shared_server(config).await?.url().to_owned(), Origin::Lab),
        };
        // A client per test: a client's background tasks live on the runtime
        // that made it, and every `#[tokio::test]` has a runtime of its own.
        // The client reports the commands it sends to `commands`, which
        // keeps them only while a test records (`TestEnv::record_mongo`).
        let commands = Sink::default();
        let client = connect_mongodb_with(&uri, origin, |options| {
            options.command_event_handler = Some(commands.handler());
        })
        .await?;
        let database = client.database(&name.replace('-', "_"));
        Ok(MongoLease {
            uri,
            client,
            database,
            commands,
        })
    }

    /// The server's URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The client connected to it.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The test's database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Where the client's command monitoring reports.
    pub(super) fn commands(&self) -> &Sink {
        &self.commands
    }
}

impl Drop for MongoLease {
    fn drop(&mut self) {
        let uri = self.uri.clone();
        let name = self.database.name().to_owned();
        block_on_side_thread(move || async move {
            if let Ok(client) = connect_mongodb(&uri, Origin::Lab).await {
                let _ = client.database(&name).drop().await;
                client.shutdown().await;
            }
        });
    }
}

async fn shared_server(config: &Config) -> Result<&'static ManagedServer, HarnessError> {
    SHARED_SERVER
        .get_or_try_init(|| async {
            let program = harness_program(config, Tool::Secantus)?;
            let options = MongoOptions {
                port: None,
                // Fresh each run: a store left by an earlier process with
                // the same pid would hold a user with another password.
                dir: test_dir(config, &format!("{}-mongodb", unique_name())),
                cache_size: "256M",
                lifetime: Lifetime::Tied,
                sync_on_commit: true,
                credentials: Some(harness_credentials()),
            };
            Ok::<_, HarnessError>(mongo_server::start(&program, &options).await?)
        })
        .await
}
