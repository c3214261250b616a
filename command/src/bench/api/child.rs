//! The API as a child process: a `lab serve` started for one run, and its
//! count of cache misses read from `/metrics`.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::TcpStream;

use super::customers::Customers;
use super::load::get;
use crate::bench::{failed, io};
use crate::control::LabError;
use lab::config::Config;
use lab::services::launcher::{self, ManagedServer, ServerPlan};
use lab::services::{Lifetime, process};

/// A child `lab serve` on a free port, over `customers` and the Redis at
/// `redis_url`, stopped when dropped (and killed with this process). Its
/// output goes to `LAB_HOME/bench/p<pid>-api/api.log`.
pub(super) async fn start_api(
    config: &Config,
    lab: PathBuf,
    customers: &Customers,
    redis_url: &str,
) -> Result<ManagedServer, LabError> {
    let dir = config
        .home
        .join("bench")
        .join(format!("p{}-api", std::process::id()));
    let key = lab::services::secret::random_token().map_err(io("making the API's key"))?;
    let plan = ServerPlan {
        service: "the billing API",
        program: lab,
        port: None,
        log_file: dir.join("api.log"),
        dir,
        lifetime: Lifetime::Tied,
        startup_timeout: Duration::from_secs(30),
        env: vec![
            ("REDIS_URL".to_owned(), redis_url.to_owned()),
            ("MONGODB_URI".to_owned(), customers.scratch.uri.clone()),
            (
                "MONGODB_DB".to_owned(),
                customers.database.name().to_owned(),
            ),
            ("LAB_API_KEY".to_owned(), key),
        ],
    };
    Ok(launcher::launch(
        &plan,
        |port| vec!["serve".into(), "--port".into(), port.to_string().into()],
        |port| format!("http://127.0.0.1:{port}"),
        async |url: &str| match url.rsplit(':').next().and_then(|port| port.parse().ok()) {
            Some(port) => process::port_accepts(port).await,
            None => false,
        },
    )
    .await?)
}

/// The API's count of cache misses, from its `/metrics`.
pub(super) async fn cache_misses(port: u16) -> Result<u64, LabError> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(io("asking the API for its metrics"))?;
    let mut stream = BufReader::new(stream);
    let body = get(&mut stream, "/metrics")
        .await
        .map_err(failed("asking the API for its metrics"))?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|line| line.strip_prefix("lab_customer_cache_misses_total "))
        .and_then(|value| value.trim().parse().ok())
        .ok_or(LabError::Unmeasurable {
            step: "asking the API for its metrics",
            problem: "its /metrics has no lab_customer_cache_misses_total",
        })
}
