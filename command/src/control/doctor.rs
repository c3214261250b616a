//! `lab doctor`: every prerequisite, checked, with the fix for each.

use super::state::LabState;
use lab::config::Config;
use lab::services::tools::{SECANTUS_PROGRAM, SECANTUS_VERSION};
use lab::services::{
    Origin, ServerKind, ServiceError, Tool, Toolbox, connect_mongodb, connect_redis_target, redact,
};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// All is well; the detail says what was found.
    Ok,
    /// Not there yet, but `lab up` or `cargo test` will install it.
    WillInstall,
    /// Needs the person to act: the fix says how.
    Fail,
}

impl Verdict {
    /// Its four-letter mark in the doctor's report.
    pub fn mark(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok  ",
            Verdict::WillInstall => "auto",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One line of the doctor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// How it went.
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// The command or step that fixes it, when it is not fine.
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            verdict: Verdict::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn problem(
        name: impl Into<String>,
        verdict: Verdict,
        detail: impl Into<String>,
        fix: String,
    ) -> Check {
        Check {
            name: name.into(),
            verdict,
            detail: detail.into(),
            fix: Some(fix),
        }
    }
}

/// Runs every check against `toolbox`'s view of the machine.
pub async fn diagnose(config: &Config, toolbox: &Toolbox) -> Vec<Check> {
    let mut checks = vec![check_home(config)];
    checks.push(check_program(
        toolbox,
        Tool::CCompiler,
        "needed to build the embedded MongoDB server",
    ));
    match &config.redis_url {
        Some(url) => {
            let answer = connect_redis_target(url, Origin::Variable("REDIS_URL"))
                .await
                .map(drop);
            checks.push(check_url("Redis (REDIS_URL)", "REDIS_URL", url, answer));
        }
        None => checks.push(check_program(
            toolbox,
            Tool::RedisServer,
            "runs the lab's Redis",
        )),
    }
    match &config.mongodb_uri {
        Some(uri) => {
            let answer = connect_mongodb(uri, Origin::Variable("MONGODB_URI"))
                .await
                .map(drop);
            checks.push(check_url(
                "MongoDB (MONGODB_URI)",
                "MONGODB_URI",
                uri,
                answer,
            ));
        }
        None => checks.extend(check_embedded_mongodb(toolbox)),
    }
    checks.push(check_program(
        toolbox,
        Tool::Python,
        "runs the lab's own Jupyter for the notebooks",
    ));
    checks.push(check_program(
        toolbox,
        Tool::EvcxrJupyter,
        "the Rust kernel the notebooks run in",
    ));
    checks.push(check_running_lab(config));
    checks.push(check_mongodb_kind(config).await);
    checks
}

/// Which MongoDB server the lessons will meet (`MONGODB_URI`, else the
/// running lab's), and where it differs from `mongod`.
async fn check_mongodb_kind(config: &Config) -> Check {
    const NAME: &str = "MongoDB server";
    let location = match &config.mongodb_uri {
        Some(uri) => Some((uri.clone(), Origin::Variable("MONGODB_URI"))),
        None => LabState::load(config)
            .ok()
            .flatten()
            .filter(|state| state.mongodb.is_alive())
            .map(|state| (state.mongodb.url, Origin::Lab)),
    };
    let Some((uri, origin)) = location else {
        return Check::ok(NAME, "known once the lab is up, or MONGODB_URI is set");
    };
    let kind = match connect_mongodb(&uri, origin).await {
        Ok(client) => ServerKind::detect(&client).await,
        Err(error) => {
            return Check::problem(NAME, Verdict::Fail, error.to_string(), origin_fix(origin));
        }
    };
    match kind {
        Ok(kind) => {
            let differences = kind.known_differences();
            if differences.is_empty() {
                Check::ok(NAME, format!("{kind}; no known differences from mongod"))
            } else {
                let listed: Vec<String> = differences
                    .iter()
                    .enumerate()
                    .map(|(number, difference)| format!("({}) {difference}", number + 1))
                    .collect();
                Check::ok(
                    NAME,
                    format!(
                        "{kind}; known differences from mongod: {}",
                        listed.join("; ")
                    ),
                )
            }
        }
        Err(error) => Check::problem(
            NAME,
            Verdict::Fail,
            format!("buildInfo failed: {error}"),
            origin_fix(origin),
        ),
    }
}

fn origin_fix(origin: Origin) -> String {
    match origin {
        Origin::Variable(variable) => format!("fix or unset {variable}"),
        Origin::Lab => "cargo lab down && cargo lab up".to_owned(),
    }
}

fn check_url(name: &str, variable: &str, url: &str, answer: Result<(), ServiceError>) -> Check {
    match answer {
        Ok(()) => Check::ok(name, format!("{} answers", redact(url))),
        Err(error) => Check::problem(
            name,
            Verdict::Fail,
            error.to_string(),
            format!("fix or unset {variable}"),
        ),
    }
}

fn check_home(config: &Config) -> Check {
    let probe = config.home.join(".doctor-probe");
    let writable = std::fs::create_dir_all(&config.home)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    match writable {
        Ok(()) => Check::ok("LAB_HOME", format!("{} is writable", config.home.display())),
        Err(error) => Check::problem(
            "LAB_HOME",
            Verdict::Fail,
            format!("{} is not writable: {error}", config.home.display()),
            "set LAB_HOME to a folder you can write to".into(),
        ),
    }
}

fn check_program(toolbox: &Toolbox, tool: Tool, purpose: &str) -> Check {
    match toolbox.locate(tool) {
        Some(path) => Check::ok(tool.label(), path.display().to_string()),
        None if toolbox.installs_itself(tool) => Check::problem(
            tool.label(),
            Verdict::WillInstall,
            format!(
                "not installed yet ({purpose}); {} installs it",
                if matches!(tool, Tool::EvcxrJupyter | Tool::Python) {
                    "`lab up`"
                } else {
                    "`lab up` and `cargo test`"
                }
            ),
            toolbox.install_command(tool),
        ),
        None => Check::problem(
            tool.label(),
            Verdict::Fail,
            format!("not found ({purpose})"),
            toolbox.install_command(tool),
        ),
    }
}

fn check_embedded_mongodb(toolbox: &Toolbox) -> Vec<Check> {
    match toolbox.locate(Tool::Secantus) {
        Some(path) => vec![Check::ok(
            Tool::Secantus.label(),
            format!("{} {SECANTUS_VERSION}", path.display()),
        )],
        None => vec![
            check_program(
                toolbox,
                Tool::Cmake,
                "needed to build the embedded MongoDB server",
            ),
            Check::problem(
                Tool::Secantus.label(),
                Verdict::WillInstall,
                format!(
                    "{SECANTUS_PROGRAM} {SECANTUS_VERSION} is not installed yet; `lab up` and `cargo test` build it once (about 5 minutes)"
                ),
                toolbox.install_command(Tool::Secantus),
            ),
        ],
    }
}

fn check_running_lab(config: &Config) -> Check {
    match LabState::load(config) {
        Ok(Some(state)) if state.redis.is_alive() && state.mongodb.is_alive() => Check::ok(
            "lab",
            format!(
                "running: Redis {}, MongoDB {}",
                redact(&state.redis.url),
                redact(&state.mongodb.url)
            ),
        ),
        Ok(Some(_)) => Check::problem(
            "lab",
            Verdict::Fail,
            "recorded as up, but a server has stopped",
            "cargo lab down && cargo lab up".into(),
        ),
        Ok(None) => Check::ok("lab", "not running (start it with `cargo lab up`)"),
        Err(error) => Check::problem(
            "lab",
            Verdict::Fail,
            error.to_string(),
            "cargo lab down".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab::services::Platform;

    /// The doctor's checks on a machine with no programs at all.
    async fn checks_on(platform: Platform, name: &str) -> Vec<Check> {
        let home = std::env::temp_dir().join(format!("lab-doctor-{name}-{}", std::process::id()));
        let config = Config::for_home(&home, Vec::new());
        let checks = diagnose(&config, &Toolbox::with_platform(&config, platform)).await;
        let _ = std::fs::remove_dir_all(home);
        checks
    }

    fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.name == name).unwrap()
    }

    #[tokio::test]
    async fn a_machine_without_redis_server_is_told_the_fix() {
        let checks = checks_on(Platform::Debian { root: false }, "user").await;
        let redis = find(&checks, "redis-server");
        assert_eq!(redis.verdict, Verdict::Fail);
        assert_eq!(
            redis.fix.as_deref(),
            Some("sudo apt-get install -y redis-server")
        );
        let cmake = find(&checks, "cmake");
        assert_eq!(cmake.fix.as_deref(), Some("sudo apt-get install -y cmake"));
    }

    #[tokio::test]
    async fn as_root_on_debian_a_missing_redis_server_is_installed_automatically() {
        let checks = checks_on(Platform::Debian { root: true }, "root").await;
        let redis = find(&checks, "redis-server");
        assert_eq!(redis.verdict, Verdict::WillInstall);
        assert_eq!(
            redis.fix.as_deref(),
            Some("apt-get install -y redis-server")
        );
    }
}
