//! The measurements behind `lab bench`. Figures are printed, never asserted:
//! a timing test on a shared 2-core machine would fail at random.

#[cfg(feature = "api")]
pub mod api;
pub mod revenue;
pub mod seed;

use mongodb::Client;

use crate::config::Config;
use crate::control::LabError;
use crate::services::mongo_server::{self, MongoOptions};
use crate::services::{Lifetime, ManagedServer, Origin, Tool, Toolbox, connect_mongodb};

/// The MongoDB server a benchmark writes to: `MONGODB_URI` when set, else a
/// fresh embedded server of its own (never the lab's, whose data a
/// benchmark would disturb), stopped when this is dropped.
struct ScratchServer {
    _server: Option<ManagedServer>,
    uri: String,
    origin: Origin,
    /// What the figures were measured on, to print beside them.
    label: String,
}

impl ScratchServer {
    async fn start(config: &Config, say: &dyn Fn(&str)) -> Result<ScratchServer, LabError> {
        if let Some(uri) = &config.mongodb_uri {
            return Ok(ScratchServer {
                _server: None,
                uri: uri.clone(),
                origin: Origin::Variable("MONGODB_URI"),
                label: crate::services::redact(uri),
            });
        }
        let program = Toolbox::new(config).ensure(Tool::Secantus, say)?;
        let dir = config
            .home
            .join("bench")
            .join(format!("p{}-mongodb", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = MongoOptions {
            port: None,
            dir,
            cache_size: "1G",
            lifetime: Lifetime::Tied,
        };
        let server: ManagedServer = mongo_server::start(&program, &options).await?;
        Ok(ScratchServer {
            uri: server.url().to_owned(),
            _server: Some(server),
            origin: Origin::Lab,
            label: "embedded secantusd-rs (fresh store)".to_owned(),
        })
    }

    async fn client(&self) -> Result<Client, LabError> {
        Ok(connect_mongodb(&self.uri, self.origin).await?)
    }
}
