//! Starting a server process and waiting until it answers.
//!
//! Redis and the embedded MongoDB server start the same way: pick a port,
//! start the program with its data in a folder of ours, and poll until it
//! answers a real request. If it exits first, its log says why; the common
//! case, a port another process took between our check and its bind, is
//! retried with a fresh port.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::error::ServiceError;
use super::process::{self, ChildProcess, Launch, Lifetime};

/// How many fresh ports to try when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// How to start one kind of server.
#[derive(Debug, Clone)]
pub struct ServerPlan {
    /// Its name in messages: "Redis" or "MongoDB".
    pub service: &'static str,
    /// The program to run.
    pub program: PathBuf,
    /// The port it must use, or `None` for any free port.
    pub port: Option<u16>,
    /// Its working and data folder.
    pub dir: PathBuf,
    /// Where its output goes.
    pub log_file: PathBuf,
    /// Whether it outlives this process.
    pub lifetime: Lifetime,
    /// How long it may take to answer.
    pub startup_timeout: Duration,
    /// Variables added to its environment (see [`Launch::env`]).
    pub env: Vec<(String, String)>,
}

/// A server this process started.
///
/// Dropping it stops the server, unless it was handed over with
/// [`ManagedServer::detach`]. Tests rely on this: a test's Redis disappears
/// with the test, even when the test fails.
pub struct ManagedServer {
    service: &'static str,
    child: Option<ChildProcess>,
    port: u16,
    url: String,
}

impl std::fmt::Debug for ManagedServer {
    /// The URL with its password hidden.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedServer")
            .field("service", &self.service)
            .field("pid", &self.pid())
            .field("port", &self.port)
            .field("url", &super::clients::redact(&self.url))
            .finish()
    }
}

impl ManagedServer {
    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL clients connect with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(ChildProcess::pid)
    }

    /// Stops it gracefully (it may save its data) and waits for it to exit.
    pub fn stop(mut self) {
        self.stop_now();
    }

    /// Kills it at once (SIGKILL), as a crash or a power cut would: it saves
    /// nothing. For fault tests.
    pub fn kill(mut self) {
        if let Some(child) = self.child.take() {
            child.kill();
        }
    }

    /// Leaves it running after this value is gone, returning its pid.
    pub fn detach(mut self) -> u32 {
        self.child.take().map(ChildProcess::release).unwrap_or(0)
    }

    fn stop_now(&mut self) {
        if let Some(child) = self.child.take() {
            child.stop(Duration::from_secs(10));
        }
    }

    /// The same server, reached with `url` (the URL with credentials, once
    /// the server has them).
    pub(crate) fn with_url(mut self, url: String) -> ManagedServer {
        self.url = url;
        self
    }

    /// Which service this is.
    pub fn service(&self) -> &'static str {
        self.service
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Starts the server described by `plan`. `args` gives its arguments for a
/// port, `url` its client URL, and `ready` says whether it answers yet.
pub async fn launch(
    plan: &ServerPlan,
    args: impl Fn(u16) -> Vec<OsString>,
    url: impl Fn(u16) -> String,
    ready: impl AsyncFn(&str) -> bool,
) -> Result<ManagedServer, ServiceError> {
    std::fs::create_dir_all(&plan.dir).map_err(|source| ServiceError::Io {
        context: format!("cannot create {}", plan.dir.display()),
        source,
    })?;
    let attempts = if plan.port.is_some() {
        1
    } else {
        PORT_ATTEMPTS
    };
    let mut last_error = None;
    for _ in 0..attempts {
        let port = match plan.port {
            Some(port) if !process::port_is_free(port) => {
                return Err(ServiceError::PortTaken {
                    service: plan.service,
                    port,
                });
            }
            Some(port) => port,
            None => process::free_port().map_err(|source| ServiceError::Io {
                context: "cannot find a free port on 127.0.0.1".into(),
                source,
            })?,
        };
        let launch = Launch {
            program: plan.program.clone(),
            args: args(port),
            log_file: plan.log_file.clone(),
            lifetime: plan.lifetime,
            env: plan.env.clone(),
        };
        let child = ChildProcess::spawn(&launch).map_err(|source| ServiceError::Io {
            context: format!("cannot start {}", plan.program.display()),
            source,
        })?;
        let server = ManagedServer {
            service: plan.service,
            child: Some(child),
            port,
            url: url(port),
        };
        match wait_until_ready(plan, server, &ready).await {
            Ok(server) => return Ok(server),
            Err(error @ ServiceError::Exited { .. }) if error.is_port_clash() => {
                last_error = Some(error);
            }
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or(ServiceError::NotReady {
        service: plan.service,
        seconds: plan.startup_timeout.as_secs(),
        log: plan.log_file.display().to_string(),
    }))
}

async fn wait_until_ready(
    plan: &ServerPlan,
    mut server: ManagedServer,
    ready: &impl AsyncFn(&str) -> bool,
) -> Result<ManagedServer, ServiceError> {
    let deadline = Instant::now() + plan.startup_timeout;
    let mut pause = Duration::from_millis(5);
    while Instant::now() < deadline {
        let exited = server.child.as_mut().and_then(ChildProcess::exit_status);
        if let Some(status) = exited {
            server.child = None;
            return Err(ServiceError::Exited {
                service: plan.service,
                status,
                log_tail: process::log_tail(&plan.log_file, 3),
            });
        }
        // An answer counts only from our own child: a server started at the
        // same moment may hold the port until ours exits with "in use".
        let another_holds_it = server
            .child
            .as_ref()
            .is_some_and(|child| process::port_held_by_other(server.port, child.pid()));
        if !another_holds_it && process::port_accepts(server.port).await && ready(&server.url).await
        {
            return Ok(server);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
    server.stop();
    Err(ServiceError::NotReady {
        service: plan.service,
        seconds: plan.startup_timeout.as_secs(),
        log: plan.log_file.display().to_string(),
    })
}
