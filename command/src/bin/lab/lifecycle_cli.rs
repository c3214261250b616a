//! Printing for the commands that run the lab: `lab up`, `lab down`,
//! `lab status`, `lab env`, `lab doctor`, `lab seed` and `lab serve`. The
//! work is done in `lab_command::control` (`bring_up`, `lifecycle`, `summary`,
//! `shell_env`, `doctor`), `lab::dataset` and `lab::startup`.

use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use lab::Config;
use lab::dataset::{self, Existing, SeedProgress, SeedSpec};
use lab::services::Toolbox;
use lab::startup::Application;
use lab_command::control::{self, UpEvent, UpOutcome, UpParts, Verdict, shutdown, summary};

use crate::say;

/// `lab up`: prints each step as `control::bring_up` reports it.
pub async fn up(config: &Config, parts: UpParts) -> anyhow::Result<ExitCode> {
    let mut bar = SeedBar::default();
    let mut show = |event: UpEvent<'_>| match event {
        UpEvent::Seeding(progress) => bar.update(progress),
        UpEvent::Servers(outcome) => {
            bar.finish();
            show_servers(config, outcome);
        }
        UpEvent::NoJupyterOnCluster => println!(
            "Jupyter is not started: the notebooks need one Redis server (`lab down`, then `lab up` without --redis-cluster)."
        ),
        UpEvent::Api { record, key } => {
            println!("API: {}", record.url);
            println!(
                "API key (writes send `Authorization: Bearer <key>`; `lab env` exports it as LAB_API_KEY): {}",
                key.expose()
            );
        }
        UpEvent::Worker {
            record,
            concurrency,
        } => println!(
            "Worker: {concurrency} jobs at once (status on {})",
            record.url
        ),
        UpEvent::Notebooks(record) => println!("Notebooks: {}", record.url),
    };
    control::bring_up(config, parts, shutdown::interrupted(), say, &mut show).await?;
    Ok(ExitCode::SUCCESS)
}

/// What Redis and MongoDB came to in `lab up`.
fn show_servers(config: &Config, outcome: &UpOutcome) {
    match outcome {
        UpOutcome::AlreadyRunning(state) => {
            println!("Redis and MongoDB were already running.");
            print_lines(summary::server_lines(config, state));
        }
        UpOutcome::Started { state, seeded } => {
            println!("The lab is up.");
            print_lines(summary::server_lines(config, state));
            if let Some(report) = seeded {
                println!(
                    "Loaded {} customers and {} invoices in {:.1} s.",
                    report.customers,
                    report.invoices,
                    report.elapsed.as_secs_f64()
                );
            }
            println!("Connect other tools with: eval \"$(cargo lab env)\"");
        }
    }
}

fn print_lines(lines: Vec<String>) {
    for line in lines {
        println!("{line}");
    }
}

/// `lab down`.
pub fn down(config: &Config) -> anyhow::Result<ExitCode> {
    match control::down(config)? {
        None => println!("The lab is not running."),
        Some(report) => {
            print_lines(report.lines());
            println!("Data is kept for the next `cargo lab up`.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lab status`: fails when a service does not answer.
pub async fn status(config: &Config) -> anyhow::Result<ExitCode> {
    let Some(services) = control::status(config).await? else {
        println!("The lab is not running. Start it with `cargo lab up`.");
        return Ok(ExitCode::SUCCESS);
    };
    for service in &services {
        println!("{service}");
    }
    if services
        .iter()
        .all(|s| s.health == control::Health::Running)
    {
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "`cargo lab up` starts again what the lab started and has EXITED (Redis, MongoDB, \
             the API, the worker, Jupyter), except one node of a Redis Cluster; for that, or a \
             service that runs but is NOT ANSWERING: `cargo lab down && cargo lab up`. A server \
             given by REDIS_URL or MONGODB_URI is yours to restart. A replacement you started \
             by hand (`cargo lab serve`, `cargo lab worker`) is not the lab's: `cargo lab up` \
             starts the lab's own beside it (on another port if yours holds the usual one); \
             stop yours first to get the usual port back, or to run one worker only."
        );
        Ok(ExitCode::FAILURE)
    }
}

/// `lab env`.
pub fn env(config: &Config) -> anyhow::Result<ExitCode> {
    print_lines(control::shell_env::exports(config)?);
    Ok(ExitCode::SUCCESS)
}

/// `lab doctor`: fails when a check needs the person to act.
pub async fn doctor(config: &Config) -> ExitCode {
    let checks = control::diagnose(config, &Toolbox::new(config)).await;
    for check in &checks {
        println!(
            "[{}] {}: {}",
            check.verdict.mark(),
            check.name,
            check.detail
        );
        if let Some(fix) = &check.fix {
            println!("       fix: {fix}");
        }
    }
    if checks.iter().any(|check| check.verdict == Verdict::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `lab seed`: loads the data set `spec` describes, with a progress bar.
pub async fn seed(config: &Config, spec: SeedSpec, existing: Existing) -> anyhow::Result<ExitCode> {
    let database = control::billing_database(config).await?;
    let mut bar = SeedBar::default();
    let report = dataset::seed(&database, spec, existing, &mut |p| bar.update(p)).await?;
    bar.finish();
    println!(
        "Loaded {} customers and {} invoices into {} in {:.1} s ({:.0} documents/s).",
        report.customers,
        report.invoices,
        database.name(),
        report.elapsed.as_secs_f64(),
        report.docs_per_second()
    );
    Ok(ExitCode::SUCCESS)
}

/// `lab serve`: the billing API in this terminal until Ctrl-C or SIGTERM.
pub async fn serve(config: &Config, port: Option<u16>) -> anyhow::Result<ExitCode> {
    let _flushed_at_exit = crate::logging::init_logging(config)?;
    let app = Application::build(config, port.unwrap_or(config.api_port)).await?;
    println!(
        "Billing API on http://127.0.0.1:{} (Ctrl-C stops it)",
        app.port()
    );
    tracing::info!(port = app.port(), "billing API listening");
    app.run_until(shutdown::stop_requested()).await?;
    Ok(ExitCode::SUCCESS)
}

/// A progress bar that appears with the first report.
#[derive(Default)]
struct SeedBar(Option<ProgressBar>);

impl SeedBar {
    fn update(&mut self, progress: SeedProgress) {
        let bar = self.0.get_or_insert_with(|| {
            let bar = ProgressBar::new(progress.total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} documents ({per_sec}, {eta} left)",
                )
                .expect("the template is valid"),
            );
            bar
        });
        bar.set_position(progress.written);
    }

    fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}
