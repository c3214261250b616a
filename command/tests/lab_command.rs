//! `lab up`, `lab down` and `lab status`, driven through the library with a
//! lab home of the test's own.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use bson::doc;
use lab::Config;
use lab::services::{Origin, ServerKind, ServiceError, connect_mongodb, connect_redis};
use lab_command::control::{self, Health, LabError, LabState, UpOptions, UpOutcome};
use redis::AsyncCommands;
use serde_json::Value;

/// A lab home that is brought down and removed when the test ends, pass or fail.
struct LabHome {
    config: Config,
}

impl LabHome {
    fn new(name: &str) -> LabHome {
        let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let config = Config {
            home,
            redis_url: None,
            mongodb_uri: None,
            redis_port: None,
            mongodb_port: None,
            ..Config::from_env().unwrap()
        };
        LabHome { config }
    }
}

impl Drop for LabHome {
    fn drop(&mut self) {
        let _ = control::down(&self.config);
        let _ = std::fs::remove_dir_all(&self.config.home);
    }
}

async fn up(config: &Config, seed: bool) -> Result<UpOutcome, LabError> {
    control::up(config, UpOptions { seed }, &|_| {}, &mut |_| {}).await
}

fn running_processes_mentioning(text: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(text))
        .count()
}

#[tokio::test]
async fn up_seeds_an_empty_lab_a_second_up_changes_nothing_and_data_survives_down_and_up() {
    let lab = LabHome::new("lifecycle");
    let UpOutcome::Started { state, seeded } = up(&lab.config, true).await.unwrap() else {
        panic!("the first `up` should start the lab");
    };
    let seeded = seeded.expect("an empty database is seeded");
    assert_eq!((seeded.customers, seeded.invoices), (1_000, 20_000));
    let statuses = control::status(&lab.config).await.unwrap().unwrap();
    assert!(
        statuses.iter().all(|s| s.health == Health::Running),
        "{statuses:?}"
    );
    servers_need_the_labs_passwords_kept_in_private_files(&lab.config, &state).await;

    let UpOutcome::AlreadyRunning(again) = up(&lab.config, true).await.unwrap() else {
        panic!("a second `up` must not start anything");
    };
    assert_eq!(again, state);

    let mut redis = connect_redis(&state.redis.url, Origin::Lab).await.unwrap();
    let _: () = redis.set("customer:42", "kept").await.unwrap();
    drop(redis);
    let report = control::down(&lab.config).unwrap().unwrap();
    assert_eq!(report.stopped.len(), 2);
    assert!(LabState::load(&lab.config).unwrap().is_none());

    let UpOutcome::Started {
        state: restarted,
        seeded,
    } = up(&lab.config, true).await.unwrap()
    else {
        panic!("`up` after `down` should start the lab");
    };
    assert!(seeded.is_none(), "a database with data is not seeded again");
    assert_eq!(
        restarted.redis.url, state.redis.url,
        "ports are reused, so exported URLs stay valid"
    );
    let mut redis = connect_redis(&restarted.redis.url, Origin::Lab)
        .await
        .unwrap();
    let kept: Option<String> = redis.get("customer:42").await.unwrap();
    assert_eq!(kept.as_deref(), Some("kept"));
    let client = connect_mongodb(&restarted.mongodb.url, Origin::Lab)
        .await
        .unwrap();
    let invoices = client
        .database(&restarted.database)
        .collection::<bson::Document>("invoices");
    assert_eq!(invoices.count_documents(doc! {}).await.unwrap(), 20_000);

    // A server whose process ended is shown as exited, not as one that
    // runs and does not answer.
    let pid = restarted.redis.pid.expect("the lab started Redis");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut redis_health = None;
    for _ in 0..50 {
        let statuses = control::status(&lab.config).await.unwrap().unwrap();
        redis_health = statuses
            .iter()
            .find(|s| s.name == "Redis")
            .map(|s| s.health);
        if redis_health == Some(Health::Exited) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(redis_health, Some(Health::Exited));
}

/// Redis and MongoDB refuse a client without the passwords `up` gave them,
/// which are only in files their owner alone can read.
async fn servers_need_the_labs_passwords_kept_in_private_files(config: &Config, state: &LabState) {
    use std::os::unix::fs::PermissionsExt;
    for file in ["lab.json", "secrets.json"] {
        let mode = std::fs::metadata(config.home.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file} holds passwords");
    }
    let secrets = control::Secrets::load_or_create(config).unwrap();
    assert!(state.redis.url.contains(&secrets.redis_password));
    let bare_redis = format!("redis://127.0.0.1:{}/", state.redis.port.unwrap());
    let refused = connect_redis(&bare_redis, Origin::Lab).await.unwrap_err();
    assert!(
        refused.to_string().contains("NOAUTH") || refused.to_string().contains("uthenticat"),
        "Redis without its password: {refused}"
    );
    let bare_mongodb = lab::services::mongo_server::uri_for_port(state.mongodb.port.unwrap());
    let client = connect_mongodb(&bare_mongodb, Origin::Lab).await.unwrap();
    let refused = client
        .database(&state.database)
        .collection::<bson::Document>("customers")
        .insert_one(doc! { "name": "intruder" })
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("requires authentication"),
        "MongoDB without its password: {refused}"
    );
    let wrong = lab::services::mongo_server::uri_with_credentials(
        state.mongodb.port.unwrap(),
        &lab::services::mongo_server::Credentials {
            user: "lab".into(),
            password: "guessed".into(),
        },
    );
    assert!(connect_mongodb(&wrong, Origin::Lab).await.is_err());
    for line in state.env_lines() {
        assert!(!line.contains("***"), "lab env exports usable URLs: {line}");
    }
}

#[tokio::test]
async fn up_on_a_taken_port_fails_in_one_line_and_starts_nothing() {
    let mut lab = LabHome::new("taken-port");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    lab.config.redis_port = Some(port);
    let error = up(&lab.config, false).await.unwrap_err();
    assert!(
        matches!(error, LabError::Service(ServiceError::PortTaken { .. })),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("port {port} on 127.0.0.1 is already in use")),
        "{message}"
    );
    assert!(message.contains("LAB_REDIS_PORT"), "{message}");
    assert!(LabState::load(&lab.config).unwrap().is_none());
}

#[tokio::test]
async fn up_with_an_unreachable_mongodb_stops_the_redis_it_started() {
    let mut lab = LabHome::new("bad-mongodb");
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    lab.config.mongodb_uri = Some(format!("mongodb://127.0.0.1:{unused}/"));
    let error = up(&lab.config, false).await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("MongoDB at mongodb://127.0.0.1:"),
        "{error}"
    );
    assert!(!error.to_string().contains('\n'));
    assert!(LabState::load(&lab.config).unwrap().is_none());
    let home = lab.config.home.display().to_string();
    assert_eq!(
        running_processes_mentioning(&home),
        0,
        "a server under {home} is still running"
    );
}

#[tokio::test]
async fn status_and_down_on_a_lab_that_never_ran_say_so() {
    let lab = LabHome::new("never-ran");
    assert!(control::status(&lab.config).await.unwrap().is_none());
    assert!(control::down(&lab.config).unwrap().is_none());
    let error = control::billing_database(&lab.config).await.unwrap_err();
    assert!(
        error.to_string().starts_with("the lab is not running"),
        "{error}"
    );
}

#[tokio::test]
async fn a_url_given_later_replaces_the_server_the_lab_had_started() {
    let mut lab = LabHome::new("replaced");
    let UpOutcome::Started { state, .. } = up(&lab.config, false).await.unwrap() else {
        panic!("the first `up` should start the lab");
    };
    let own = state.redis.pid.expect("the lab started its own Redis");
    let elsewhere = lab::testing::TestEnv::start().await;
    lab.config.redis_url = Some(elsewhere.redis_url().to_owned());

    let UpOutcome::Started { state, .. } = up(&lab.config, false).await.unwrap() else {
        panic!("a new REDIS_URL should be taken up");
    };
    assert_eq!(state.redis.url, elsewhere.redis_url());
    assert_eq!(
        state.redis.pid, None,
        "a server given by URL is not the lab's"
    );
    assert!(
        !lab::services::process::is_running(own, "redis-server"),
        "the lab's own Redis must not run on, unrecorded"
    );
    assert!(
        state.mongodb.is_alive(),
        "MongoDB was not replaced and keeps running"
    );
}

#[tokio::test]
async fn doctor_names_the_mongodb_server_and_its_known_differences() {
    let env = lab::testing::TestEnv::start().await;
    let config = Config {
        mongodb_uri: Some(env.mongodb_uri().to_owned()),
        ..Config::from_env().unwrap()
    };
    let checks = control::diagnose(&config, &lab::services::Toolbox::new(&config)).await;
    let check = checks
        .iter()
        .find(|check| check.name == "MongoDB server")
        .expect("the doctor reports the server kind");
    assert_eq!(check.verdict, control::Verdict::Ok, "{}", check.detail);
    let client = connect_mongodb(env.mongodb_uri(), Origin::Lab)
        .await
        .unwrap();
    let kind = ServerKind::detect(&client).await.unwrap();
    assert!(
        check.detail.starts_with(&kind.to_string()),
        "{}",
        check.detail
    );
    for difference in kind.known_differences() {
        assert!(check.detail.contains(difference), "{}", check.detail);
    }
    if std::env::var_os("MONGODB_URI").is_none() {
        assert!(
            matches!(kind, ServerKind::Embedded { .. }),
            "the tests' own server is the embedded one"
        );
        assert!(check.detail.contains("$dateDiff"));
    }
}

#[tokio::test]
async fn a_change_made_while_redis_was_paused_is_served_after_lab_down_and_up() {
    use axum::http::{Method, StatusCode};
    use nix::sys::signal::{Signal, kill};
    let lab = LabHome::new("outbox-down-up");
    let UpOutcome::Started { state, .. } = up(&lab.config, false).await.unwrap() else {
        panic!("the first `up` should start the lab");
    };
    let key = control::secrets::api_key(&lab.config).unwrap();
    let authorization = format!("Bearer {}", key.expose());
    let write = async |api: &lab::api::ApiState, method: Method, path: &str, body: Value| {
        let body = Some(("application/json", body.to_string().into_bytes()));
        common::call_with(
            api,
            method,
            path,
            &[("authorization", &authorization)],
            body,
        )
        .await
    };
    let api = lab::startup::api_state(&lab.config).await.unwrap();
    let created = write(
        &api,
        Method::POST,
        "/customers",
        serde_json::json!({
            "name": "Before Down", "email": "down-up@example.com", "phone": "555-0101",
            "address": {"street": "1 Way", "city": "Leeds", "state": "NY", "zip": "10001"},
        }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let path = format!("/customers/{}", created.body["_id"].as_str().unwrap());
    common::get(&api, &path).await;
    let cached = common::get(&api, &path).await;
    assert_eq!(cached.body["source"], "cache", "{}", cached.body);

    // Redis stops answering with the entry cached; the customer changes
    // (acknowledged), and the whole lab goes down and up: Redis reloads the
    // stale entry from its append-only file, and a new API process starts.
    let pid = nix::unistd::Pid::from_raw(state.redis.pid.unwrap() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    let changed = write(
        &api,
        Method::PATCH,
        &path,
        serde_json::json!({"name": "After Down"}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    drop(api);
    kill(pid, Signal::SIGCONT).unwrap();
    control::down(&lab.config).unwrap();
    up(&lab.config, false).await.unwrap();
    let api = lab::startup::api_state(&lab.config).await.unwrap();
    for _ in 0..2 {
        let answer = common::get(&api, &path).await;
        assert_eq!(
            answer.body["customer"]["name"], "After Down",
            "after `lab down` and `lab up` the customer is served as last written: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_failed_up_is_rolled_back_to_what_ran_before() {
    let lab = LabHome::new("roll-back");
    let UpOutcome::Started { state, .. } = up(&lab.config, false).await.unwrap() else {
        panic!("the first `up` should start the lab");
    };
    // Rolling back to the lab as it was once the servers ran keeps them.
    control::roll_back(&lab.config, Some(&state)).unwrap();
    assert_eq!(LabState::load(&lab.config).unwrap(), Some(state.clone()));
    assert!(state.redis.is_alive() && state.mongodb.is_alive());
    // Rolling back an `up` that began with the lab down stops everything.
    control::roll_back(&lab.config, None).unwrap();
    assert!(LabState::load(&lab.config).unwrap().is_none());
    for record in [&state.redis, &state.mongodb] {
        assert!(!record.is_alive(), "{} was stopped", record.program);
    }
}
