//! Connecting to Redis and MongoDB with timeouts a person can wait for.
//!
//! Both drivers retry for a long time by default (the MongoDB driver 30 s of
//! server selection, the Redis connection manager six reconnect attempts).
//! That suits a long-running service, not a student waiting on a command, so
//! the first contact here gives up after a few seconds with a clear message.

use std::time::Duration;

use mongodb::bson::doc;
use mongodb::options::{ClientOptions, WriteConcern};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use redis::cluster::ClusterClientBuilder;

use super::error::ServiceError;
use super::redis_connection::{RedisConnection, RedisTarget};

/// How long the first contact with a server may take.
const FIRST_CONTACT: Duration = Duration::from_secs(5);

/// Where a URL came from, which decides the advice in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Given by the user in this environment variable.
    Variable(&'static str),
    /// Started and recorded by `lab up`.
    Lab,
}

impl Origin {
    fn hint(self) -> String {
        match self {
            Origin::Variable(name) => {
                format!("check {name}, or unset it to let the lab start its own server")
            }
            Origin::Lab => "run `lab status`, and `lab up` if the lab is down".to_owned(),
        }
    }
}

/// A Redis connection manager for `url`, once the server has answered PING.
///
/// The manager is cheap to clone and reconnects by itself, so a program holds
/// one and clones it wherever a connection is needed.
pub async fn connect_redis(url: &str, origin: Origin) -> Result<ConnectionManager, ServiceError> {
    let unreachable = redis_unreachable(url, origin);
    let client = redis::Client::open(url).map_err(|error| unreachable(first_line(&error)))?;
    let mut manager = tokio::time::timeout(
        FIRST_CONTACT * 2,
        ConnectionManager::new_with_config(client, manager_config()),
    )
    .await
    .map_err(|_| unreachable("timed out".into()))?
    .map_err(|error| unreachable(first_line(&error)))?;
    let _: String = redis::cmd("PING")
        .query_async(&mut manager)
        .await
        .map_err(|error| unreachable(first_line(&error)))?;
    Ok(manager)
}

/// Like [`connect_redis_target`], for a program that can do part of its work
/// without Redis (the API serves customers and invoices from MongoDB): a
/// single server that cannot be reached yet (nothing listens, or it does
/// not answer) is no error. The connection is then made on first use and
/// again after each failure, and the second value says why Redis did not
/// answer, for the log. A server that answers with a refusal (a wrong
/// password, say) is still an error: waiting would not mend it.
pub async fn connect_redis_target_or_later(
    url: &str,
    origin: Origin,
) -> Result<(RedisConnection, Option<ServiceError>), ServiceError> {
    let unreachable = redis_unreachable(url, origin);
    let single = match RedisTarget::parse(url).map_err(|error| unreachable(error.to_string()))? {
        RedisTarget::Single(single) => single,
        RedisTarget::Cluster(_) => return Ok((connect_redis_target(url, origin).await?, None)),
    };
    let client =
        redis::Client::open(single.as_str()).map_err(|error| unreachable(first_line(&error)))?;
    let manager = ConnectionManager::new_lazy_with_config(client, manager_config())
        .map_err(|error| unreachable(first_line(&error)))?;
    let mut probe = manager.clone();
    let answer = tokio::time::timeout(
        FIRST_CONTACT * 2,
        redis::cmd("PING").query_async::<String>(&mut probe),
    )
    .await;
    let not_yet = match answer {
        Ok(Ok(_)) => None,
        Ok(Err(error)) if !is_not_ready(&error) => return Err(unreachable(first_line(&error))),
        Ok(Err(error)) => Some(unreachable(first_line(&error))),
        Err(_) => Some(unreachable("timed out".into())),
    };
    Ok((manager.into(), not_yet))
}

/// Whether `error` says Redis is not ready yet, so that trying again later
/// may succeed: it could not be reached (an I/O error: nothing listens, the
/// connection dropped or timed out, the errors after which the connection
/// manager connects again on the next use), or it answered that it is still
/// loading its data or that its master is down. Anything else (a wrong
/// password, a user without rights) is a refusal that waiting does not mend.
pub fn is_not_ready(error: &redis::RedisError) -> bool {
    error.is_io_error()
        || matches!(
            error.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::TryAgain
            )
        )
}

/// How every Redis connection manager of the lab behaves: a first contact
/// and each answer within [`FIRST_CONTACT`], one retry of a connection.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(FIRST_CONTACT))
        .set_response_timeout(Some(FIRST_CONTACT))
        .set_number_of_retries(1)
}

/// The error for a Redis at `url` that could not be used, for `reason`.
fn redis_unreachable(url: &str, origin: Origin) -> impl Fn(String) -> ServiceError {
    let url = redact(url);
    move |reason| ServiceError::Unreachable {
        service: "Redis",
        url: url.clone(),
        reason,
        hint: origin.hint(),
    }
}

/// A connection to what `url` names, a single server or a cluster (see
/// [`redis_connection`](super::redis_connection)), once it has answered PING.
pub async fn connect_redis_target(
    url: &str,
    origin: Origin,
) -> Result<RedisConnection, ServiceError> {
    let unreachable = redis_unreachable(url, origin);
    let nodes = match RedisTarget::parse(url).map_err(|error| unreachable(error.to_string()))? {
        RedisTarget::Single(url) => return connect_redis(&url, origin).await.map(Into::into),
        RedisTarget::Cluster(nodes) => nodes,
    };
    let client = ClusterClientBuilder::new(nodes)
        .connection_timeout(FIRST_CONTACT)
        .response_timeout(FIRST_CONTACT)
        .build()
        .map_err(|error| unreachable(first_line(&error)))?;
    let mut connection = tokio::time::timeout(FIRST_CONTACT * 2, client.get_async_connection())
        .await
        .map_err(|_| unreachable("timed out".into()))?
        .map_err(|error| unreachable(first_line(&error)))?;
    let _: String = redis::cmd("PING")
        .query_async(&mut connection)
        .await
        .map_err(|error| unreachable(first_line(&error)))?;
    Ok(connection.into())
}

/// A MongoDB client for `uri`, once the server has answered `ping`.
///
/// `mongodb::Client` holds a connection pool behind an `Arc`: one per
/// program, cloned freely.
pub async fn connect_mongodb(uri: &str, origin: Origin) -> Result<mongodb::Client, ServiceError> {
    connect_mongodb_with(uri, origin, |_| {}).await
}

/// Like [`connect_mongodb`], with the driver's options adjusted by `adjust`
/// before the client is made (the test harness adds command monitoring).
pub async fn connect_mongodb_with(
    uri: &str,
    origin: Origin,
    adjust: impl FnOnce(&mut ClientOptions),
) -> Result<mongodb::Client, ServiceError> {
    let unreachable = |reason: String| ServiceError::Unreachable {
        service: "MongoDB",
        url: redact(uri),
        reason,
        hint: origin.hint(),
    };
    if let Some(refusal) = srv_refusal(uri, cfg!(feature = "srv")) {
        return Err(unreachable(refusal.to_owned()));
    }
    let mut options = ClientOptions::parse(uri)
        .await
        .map_err(|error| unreachable(first_line(&error)))?;
    // An acknowledged write is one on disk: a `mongod` answers `w: 1`
    // before its journal is flushed (about every 100 ms), so without `j` a
    // crash can lose a customer the API answered 201 for. A write concern
    // given in the URI is kept as it is.
    options
        .write_concern
        .get_or_insert_with(|| WriteConcern::builder().journal(true).build());
    options.server_selection_timeout = Some(FIRST_CONTACT);
    options.connect_timeout.get_or_insert(FIRST_CONTACT);
    options
        .app_name
        .get_or_insert_with(|| "rust-db-lab".to_owned());
    adjust(&mut options);
    let client =
        mongodb::Client::with_options(options).map_err(|error| unreachable(first_line(&error)))?;
    client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .await
        .map_err(|error| unreachable(first_line(&error)))?;
    Ok(client)
}

/// Whether `error` says MongoDB could not be reached, or could not serve
/// for now (a network error, no server to select, a connection pool
/// cleared, a server shutting down or changing roles), rather than that
/// it refused the work.
pub fn is_outage(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    // HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress,
    // PrimarySteppedDown, SocketException, NotWritablePrimary,
    // InterruptedAtShutdown, InterruptedDueToReplStateChange,
    // NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary.
    const FOR_NOW: [i32; 11] = [6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436];
    match error.kind.as_ref() {
        ErrorKind::Io(_)
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::ConnectionPoolCleared { .. } => true,
        ErrorKind::Command(command) => FOR_NOW.contains(&command.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(concern)) => {
            FOR_NOW.contains(&concern.code)
        }
        _ => error.contains_label("RetryableWriteError"),
    }
}

/// Whether `error` leaves a write's fate unknown: the request may have
/// reached MongoDB and been carried out, but its answer was lost (a
/// connection broken mid-request, a server interrupted while running it, a
/// write made but not confirmed as durable). Unlike [`is_outage`], no
/// server to select, or a server that refused the command, means the write
/// was never made.
pub fn answer_lost(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    // NetworkTimeout, SocketException, InterruptedAtShutdown,
    // InterruptedDueToReplStateChange.
    const CUT_OFF: [i32; 4] = [89, 9001, 11600, 11602];
    match error.kind.as_ref() {
        ErrorKind::Io(io) => io.kind() != std::io::ErrorKind::ConnectionRefused,
        ErrorKind::Command(command) => CUT_OFF.contains(&command.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(_)) => true,
        _ => false,
    }
}

/// Why `uri` cannot be used by a build without DNS lookups (`srv_built`
/// false, the `srv` feature off): a `mongodb+srv://` address names a DNS
/// record that lists the servers, not the servers themselves. The driver's
/// own refusal names a feature of its own that a student cannot turn on.
fn srv_refusal(uri: &str, srv_built: bool) -> Option<&'static str> {
    const SCHEME: &str = "mongodb+srv://";
    let srv = uri
        .get(..SCHEME.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(SCHEME));
    (srv && !srv_built).then_some(
        "a `mongodb+srv://` address needs DNS lookups that this build of the support crate \
         leaves out: in a notebook, add \"srv\" to the features of the first cell's `:dep lab` \
         line (`features = [\"srv\"]`, or `[\"api\", \"srv\"]` where it has \"api\"), or give \
         the cluster's standard `mongodb://` connection string instead",
    )
}

/// Whether a Redis server at `url` answers PING right now.
pub async fn redis_answers(url: &str) -> bool {
    connect_redis(url, Origin::Lab).await.is_ok()
}

/// Whether a MongoDB server at `uri` answers `ping` right now.
pub async fn mongodb_answers(uri: &str) -> bool {
    connect_mongodb(uri, Origin::Lab).await.is_ok()
}

/// `url` with its database number replaced by `number`, query kept
/// (`redis://host:6379/0` becomes `redis://host:6379/3`).
pub fn redis_url_with_database(url: &str, number: u8) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    let mut result = format!("{}/{number}", &base[..host_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

/// `url` with any password replaced by `***`, fit to print.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            if credentials.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

/// A driver's error in one line of at most 200 characters, for a person:
/// the MongoDB driver's description of the whole topology is left out.
pub fn first_line(error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    // The MongoDB driver describes a failed server selection with the whole
    // topology; the server's own error inside it is what a person needs.
    if text.contains("Server selection timeout")
        && let Some((_, inner)) = text.split_once("Error: Kind: ")
    {
        let inner = inner.split(", labels").next().unwrap_or(inner);
        return inner
            .trim_end_matches(['}', ' ', ']'])
            .chars()
            .take(200)
            .collect();
    }
    let line = text.lines().next().unwrap_or_default();
    let line = line.split(". Topology:").next().unwrap_or(line);
    // Driver messages can be very long; the start says what happened.
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_driver_error_loses_its_topology_dump() {
        let text = "Kind: Server selection timeout: No available servers. Topology: { Type: \
                    Single, Servers: [ { Address: 127.0.0.1:1, Type: Unknown } ] }, labels: {}";
        assert_eq!(
            super::first_line(&text),
            "Kind: Server selection timeout: No available servers"
        );
        let long = "x".repeat(300);
        assert_eq!(super::first_line(&long).chars().count(), 200);
        assert_eq!(super::first_line(&"one\ntwo"), "one");
    }

    #[test]
    fn a_redis_url_gets_the_database_asked_for() {
        use super::redis_url_with_database as with;
        assert_eq!(
            with("redis://127.0.0.1:6379/", 3),
            "redis://127.0.0.1:6379/3"
        );
        assert_eq!(
            with("redis://127.0.0.1:6379", 15),
            "redis://127.0.0.1:6379/15"
        );
        assert_eq!(
            with("redis://u:p@h:1/7?protocol=resp3", 1),
            "redis://u:p@h:1/1?protocol=resp3"
        );
    }

    use super::*;

    #[test]
    fn an_srv_address_is_refused_only_by_a_build_without_dns_lookups() {
        let atlas = "mongodb+srv://ada:pw@cluster0.example.net/";
        let refusal = srv_refusal(atlas, false).expect("refused without DNS lookups");
        assert!(refusal.contains(r#"features = ["srv"]"#), "{refusal}");
        assert!(refusal.contains(r#"["api", "srv"]"#), "{refusal}");
        assert_eq!(
            srv_refusal("MONGODB+SRV://cluster0.example.net/", false),
            Some(refusal)
        );
        assert_eq!(srv_refusal(atlas, true), None);
        assert_eq!(srv_refusal("mongodb://127.0.0.1:27017/", false), None);
        assert_eq!(srv_refusal("mongodb+s", false), None);
    }

    #[test]
    fn passwords_are_hidden_and_the_rest_is_kept() {
        assert_eq!(
            redact("mongodb+srv://ada:s3cret@cluster0.example.net/billing?retryWrites=true"),
            "mongodb+srv://ada:***@cluster0.example.net/billing?retryWrites=true"
        );
        assert_eq!(
            redact("redis://:pw@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
    }

    #[tokio::test]
    async fn a_mongodb_uri_that_does_not_answer_gives_a_one_line_error() {
        let port = super::super::process::free_port().unwrap();
        let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
        let error = connect_mongodb(&uri, Origin::Variable("MONGODB_URI"))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("MongoDB at {uri} does not answer")),
            "{message}"
        );
        assert!(message.contains("check MONGODB_URI"), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[tokio::test]
    async fn a_redis_url_that_does_not_answer_gives_a_one_line_error() {
        let port = super::super::process::free_port().unwrap();
        let url = format!("redis://127.0.0.1:{port}/");
        let error = connect_redis(&url, Origin::Variable("REDIS_URL"))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("Redis at {url} does not answer")),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }
}
