//! Typed configuration: the one place in the lab that reads the environment.
//!
//! Every other module receives a [`Config`] (or a piece of one) as an argument.
//! Keeping environment access here means a test can build any configuration it
//! wants with [`Config::for_home`] and never races another test over global
//! variables.

use std::path::{Path, PathBuf};

/// Name of the database that holds the billing collections unless
/// `MONGODB_DB` says otherwise. It is the name the course notes use.
pub const DEFAULT_DATABASE: &str = "billing_db";

/// What `lab serve` and `lab worker` log unless `LAB_LOG` says otherwise.
/// Warnings and start-up lines, not a line per request: request logs written
/// on the request's path cost a third of the API's throughput and filled
/// `LAB_HOME/api/api.log` without bound. `LAB_LOG=debug` shows them.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Everything the lab can be told from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `REDIS_URL`: an existing Redis server to use instead of starting one.
    pub redis_url: Option<String>,
    /// `MONGODB_URI`: an existing `mongod` or Atlas cluster to use instead of
    /// the embedded server.
    pub mongodb_uri: Option<String>,
    /// `MONGODB_DB`: the database that holds `customers` and `invoices`.
    pub database: String,
    /// `LAB_HOME`: the folder for state, logs, data and tools. Defaults to
    /// `.lab/` at the top of the repository (git-ignored).
    pub home: PathBuf,
    /// `LAB_REDIS_PORT`: the port `lab up` gives Redis; a free one when unset.
    /// With a cluster, the first node's port, the others following it.
    pub redis_port: Option<u16>,
    /// `LAB_REDIS_CLUSTER`: `1` makes `lab up` start a Redis Cluster (three
    /// masters with a replica each, see `services::redis_cluster`) instead
    /// of one server; `lab up --redis-cluster` sets it.
    pub redis_cluster: bool,
    /// `LAB_JOB_SHARDS`: how many shards the job queue is split into (1 to
    /// 64). Every process of one lab must use the same number. Unset: one
    /// on a single Redis, six (two per master) on a cluster.
    pub job_shards: Option<crate::jobs::ShardCount>,
    /// `LAB_MONGODB_PORT`: the port `lab up` gives the embedded MongoDB
    /// server; a free one when unset.
    pub mongodb_port: Option<u16>,
    /// `LAB_API_PORT`: the port of the billing API (default 8000).
    pub api_port: u16,
    /// `LAB_LOG`: what `lab serve` and `lab worker` log, as a tracing filter
    /// (`info` when unset; `debug` adds one line per request).
    pub log_filter: String,
    /// `LAB_LOG_FILE`: the file `lab serve` or `lab worker` writes its log
    /// to, rotated by size with a few old files kept (see
    /// `lab_command::log_file`); standard output when unset. `lab up` sets
    /// it to `LAB_HOME/api/api.log` and `LAB_HOME/worker/worker.log`.
    pub log_file: Option<PathBuf>,
    /// `LAB_JOB_DRILLS`: `1` lets the job API and workers run drill jobs
    /// (`noop`, `sleep`, `panic`, `crash`), which exercise the job system itself.
    pub job_drills: bool,
    /// `LAB_WEBHOOK_ALLOW`: local webhook receivers the lab may call, as
    /// `host:port` pairs separated by commas (`127.0.0.1:9000`). Without
    /// them, webhooks reach public addresses only; see
    /// `WebhookPolicy::from_config` in `jobs::webhooks`.
    pub webhook_allow: Vec<String>,
    /// `LAB_API_KEY`: the key the billing API asks of every write
    /// (`Authorization: Bearer ...`). When unset, `lab serve` uses the one
    /// `lab up` made (`LAB_HOME/secrets.json`), which `lab env` exports.
    pub api_key: Option<ApiKey>,
    /// `LAB_API_HOSTS`: names the API answers to besides `localhost`,
    /// `127.0.0.1` and `[::1]`, separated by commas (`lab.example`).
    /// Requests naming any other host in `Host` are refused, so a web page
    /// cannot reach the API through a name it controls (DNS rebinding).
    pub api_hosts: Vec<String>,
    /// Folders searched for programs such as `redis-server`, from `PATH`.
    pub search_path: Vec<PathBuf>,
    /// Cargo's home (`CARGO_HOME`, else `~/.cargo`): where `cargo install`
    /// puts the embedded MongoDB server so every checkout shares one build.
    pub cargo_home: Option<PathBuf>,
    /// Where the evcxr kernel keeps its build cache (`XDG_CACHE_HOME/evcxr`,
    /// else `~/.cache/evcxr`), when a home folder is known.
    pub kernel_cache: Option<PathBuf>,
    /// `LAB_NOTEBOOK_JOBS`: how many notebooks each notebook check runs at
    /// once, each in its own kernel (1 to 16). Unset: one per core, at most
    /// four; see `lab_command::lessons::suite::parallelism`.
    pub notebook_jobs: Option<std::num::NonZeroUsize>,
}

/// The billing API's key: at least 16 visible ASCII characters, so it fits
/// in a header as it is. Never shown in full by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Checks a key given from outside (`LAB_API_KEY`).
    pub fn parse(value: String) -> Result<ApiKey, ConfigError> {
        let value = value.trim().to_owned();
        if value.len() >= 16 && value.bytes().all(|byte| byte.is_ascii_graphic()) {
            Ok(ApiKey(value))
        } else {
            Err(ConfigError {
                name: "LAB_API_KEY",
                value: "(hidden)".to_owned(),
                reason: "give at least 16 visible ASCII characters, no spaces",
            })
        }
    }

    /// The key itself, for a header or `lab env`.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(hidden)")
    }
}

/// A variable was set to something the lab cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}={value:?} is not valid: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub name: &'static str,
    /// The value it had.
    pub value: String,
    /// What was expected instead.
    pub reason: &'static str,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds a configuration from any source of variables; `from_env` passes
    /// the real environment, tests pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let home = non_empty("LAB_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(default_home);
        let search_path = lookup("PATH")
            .map(|path| std::env::split_paths(&path).collect())
            .unwrap_or_default();
        let cargo_home = non_empty("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|home| Path::new(&home).join(".cargo")));
        let kernel_cache = non_empty("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|home| Path::new(&home).join(".cache")))
            .map(|cache| cache.join("evcxr"));
        Ok(Config {
            redis_url: non_empty("REDIS_URL"),
            mongodb_uri: non_empty("MONGODB_URI"),
            database: non_empty("MONGODB_DB").unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
            home,
            redis_port: parse_port("LAB_REDIS_PORT", non_empty("LAB_REDIS_PORT"))?,
            redis_cluster: parse_switch("LAB_REDIS_CLUSTER", non_empty("LAB_REDIS_CLUSTER"))?,
            job_shards: non_empty("LAB_JOB_SHARDS")
                .map(|value| {
                    value.parse().map_err(|_| ConfigError {
                        name: "LAB_JOB_SHARDS",
                        value,
                        reason: "expected a number of shards from 1 to 64",
                    })
                })
                .transpose()?,
            mongodb_port: parse_port("LAB_MONGODB_PORT", non_empty("LAB_MONGODB_PORT"))?,
            api_port: parse_port("LAB_API_PORT", non_empty("LAB_API_PORT"))?.unwrap_or(8000),
            log_filter: non_empty("LAB_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned()),
            log_file: non_empty("LAB_LOG_FILE").map(PathBuf::from),
            job_drills: parse_switch("LAB_JOB_DRILLS", non_empty("LAB_JOB_DRILLS"))?,
            webhook_allow: parse_allowlist(non_empty("LAB_WEBHOOK_ALLOW"))?,
            api_key: non_empty("LAB_API_KEY").map(ApiKey::parse).transpose()?,
            api_hosts: non_empty("LAB_API_HOSTS")
                .map(|hosts| {
                    hosts
                        .split(',')
                        .map(|host| host.trim().to_ascii_lowercase())
                        .filter(|host| !host.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            search_path,
            cargo_home,
            kernel_cache,
            notebook_jobs: non_empty("LAB_NOTEBOOK_JOBS")
                .map(
                    |value| match value.trim().parse::<std::num::NonZeroUsize>() {
                        Ok(jobs) if jobs.get() <= 16 => Ok(jobs),
                        _ => Err(ConfigError {
                            name: "LAB_NOTEBOOK_JOBS",
                            value,
                            reason: "expected a number of notebooks from 1 to 16",
                        }),
                    },
                )
                .transpose()?,
        })
    }

    /// A configuration rooted at `home` that uses the given search path and
    /// nothing from the environment: what tests and the test harness start from.
    pub fn for_home(home: impl Into<PathBuf>, search_path: Vec<PathBuf>) -> Self {
        Config {
            redis_url: None,
            mongodb_uri: None,
            database: DEFAULT_DATABASE.to_owned(),
            home: home.into(),
            redis_port: None,
            redis_cluster: false,
            job_shards: None,
            mongodb_port: None,
            api_port: 8000,
            log_filter: DEFAULT_LOG_FILTER.to_owned(),
            log_file: None,
            job_drills: false,
            webhook_allow: Vec::new(),
            api_key: None,
            api_hosts: Vec::new(),
            search_path,
            cargo_home: None,
            kernel_cache: None,
            notebook_jobs: None,
        }
    }

    /// The top folder of the lab's repository: where `exercises/`,
    /// `solutions/` and `notebooks/` are. Known when the crate is compiled.
    pub fn repository(&self) -> PathBuf {
        repository_root().to_owned()
    }

    /// The file that records what `lab up` started.
    pub fn state_file(&self) -> PathBuf {
        self.home.join("lab.json")
    }

    /// The folder that holds a service's data and log.
    pub fn service_dir(&self, service: &str) -> PathBuf {
        self.home.join(service)
    }

    /// The folder the lab installs its own tools into when cargo's home is unknown.
    pub fn tools_dir(&self) -> PathBuf {
        self.home.join("tools")
    }
}

/// The top folder of the lab's repository, where this crate's `Cargo.toml`
/// is (the workspace's root): `exercises/`, `solutions/`, `notebooks/` and
/// `command/` are beside it. Known when the crate is compiled.
pub fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `.lab/` at the top of the repository.
fn default_home() -> PathBuf {
    repository_root().join(".lab")
}

fn parse_port(name: &'static str, value: Option<String>) -> Result<Option<u16>, ConfigError> {
    value
        .map(|value| match value.trim().parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(ConfigError {
                name,
                value,
                reason: "expected a port number from 1 to 65535",
            }),
        })
        .transpose()
}

fn parse_switch(name: &'static str, value: Option<String>) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::trim) {
        None | Some("0" | "false" | "no") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some(_) => Err(ConfigError {
            name,
            value: value.unwrap_or_default(),
            reason: "expected 1 or 0",
        }),
    }
}

/// `LAB_WEBHOOK_ALLOW`: `host:port` pairs separated by commas.
fn parse_allowlist(value: Option<String>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let entries: Vec<String> = value
        .split(',')
        .map(|entry| entry.trim().to_owned())
        .filter(|entry| !entry.is_empty())
        .collect();
    let valid = |entry: &String| {
        entry.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        })
    };
    if entries.iter().all(valid) {
        Ok(entries)
    } else {
        Err(ConfigError {
            name: "LAB_WEBHOOK_ALLOW",
            value,
            reason: "give host:port pairs separated by commas, such as 127.0.0.1:9000",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_defaults() {
        let config = config_from(&[]).unwrap();
        assert_eq!(config.redis_url, None);
        assert_eq!(config.mongodb_uri, None);
        assert_eq!(config.database, "billing_db");
        assert!(config.home.ends_with(".lab"));
        assert_eq!(config.api_port, 8000);
        assert!(!config.job_drills);
        assert!(config_from(&[("LAB_JOB_DRILLS", "1")]).unwrap().job_drills);
        assert_eq!(
            config_from(&[("LAB_JOB_DRILLS", "maybe")])
                .unwrap_err()
                .reason,
            "expected 1 or 0"
        );
    }

    #[test]
    fn set_variables_override_the_defaults() {
        let config = config_from(&[
            ("REDIS_URL", "redis://127.0.0.1:7000/"),
            ("MONGODB_URI", "mongodb://db.example:27017/"),
            ("MONGODB_DB", "course"),
            ("LAB_HOME", "/tmp/lab-home"),
            ("LAB_REDIS_PORT", "7001"),
            ("PATH", "/usr/bin:/bin"),
        ])
        .unwrap();
        assert_eq!(config.redis_url.as_deref(), Some("redis://127.0.0.1:7000/"));
        assert_eq!(config.database, "course");
        assert_eq!(config.home, PathBuf::from("/tmp/lab-home"));
        assert_eq!(config.redis_port, Some(7001));
        assert_eq!(config.search_path.len(), 2);
    }

    #[test]
    fn blank_variables_count_as_unset() {
        let config = config_from(&[("REDIS_URL", "  "), ("MONGODB_DB", "")]).unwrap();
        assert_eq!(config.redis_url, None);
        assert_eq!(config.database, "billing_db");
    }

    #[test]
    fn a_port_that_is_not_a_number_is_rejected_with_its_name() {
        let error = config_from(&[("LAB_API_PORT", "eighty")]).unwrap_err();
        assert_eq!(error.name, "LAB_API_PORT");
        assert!(error.to_string().contains("LAB_API_PORT=\"eighty\""));
    }

    #[test]
    fn notebook_jobs_are_a_small_positive_number() {
        assert_eq!(config_from(&[]).unwrap().notebook_jobs, None);
        let jobs = config_from(&[("LAB_NOTEBOOK_JOBS", "2")])
            .unwrap()
            .notebook_jobs;
        assert_eq!(jobs.map(std::num::NonZeroUsize::get), Some(2));
        for bad in ["0", "17", "two", "-1"] {
            let error = config_from(&[("LAB_NOTEBOOK_JOBS", bad)]).unwrap_err();
            assert_eq!(error.name, "LAB_NOTEBOOK_JOBS", "{bad}");
        }
    }

    #[test]
    fn an_api_key_is_checked_and_never_printed() {
        let config = config_from(&[
            ("LAB_API_KEY", "0123456789abcdef0123"),
            ("LAB_API_HOSTS", "Lab.Example, ,api.local"),
        ])
        .unwrap();
        let key = config.api_key.as_ref().unwrap();
        assert_eq!(key.expose(), "0123456789abcdef0123");
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
        assert_eq!(config.api_hosts, ["lab.example", "api.local"]);
        for bad in ["short", "has a space in it somewhere"] {
            let error = config_from(&[("LAB_API_KEY", bad)]).unwrap_err();
            assert_eq!(error.name, "LAB_API_KEY");
            assert!(!error.to_string().contains(bad), "the key is not echoed");
        }
    }

    #[test]
    fn webhook_receivers_are_host_port_pairs() {
        let config =
            config_from(&[("LAB_WEBHOOK_ALLOW", "127.0.0.1:9000, localhost:8080,")]).unwrap();
        assert_eq!(config.webhook_allow, ["127.0.0.1:9000", "localhost:8080"]);
        for bad in ["127.0.0.1", ":9000", "host:0", "host:http"] {
            let error = config_from(&[("LAB_WEBHOOK_ALLOW", bad)]).unwrap_err();
            assert_eq!(error.name, "LAB_WEBHOOK_ALLOW", "{bad}");
        }
    }
}
