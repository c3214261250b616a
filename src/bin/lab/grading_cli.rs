//! Printing for `lab grade`, `lab hint`, `lab reset`, `lab watch` and
//! `lab check-exercises`; the work is done in `lab::grading`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use lab::Config;
use lab::grading::{self, Catalog, Flavor, Report, Status};

pub async fn grade(
    config: &Config,
    id: Option<String>,
    flavor: Flavor,
    json: Option<PathBuf>,
    junit: Option<PathBuf>,
) -> Result<ExitCode, String> {
    let catalog = Catalog::load(&config.repository()).map_err(|e| e.to_string())?;
    eprintln!(
        "lab: compiling and testing the {} (the first run builds the dependencies)",
        flavor.name()
    );
    let selected: Vec<&str> = id.iter().map(String::as_str).collect();
    let report = grading::grade(&catalog, flavor, &selected)
        .await
        .map_err(|e| e.to_string())?;
    print_table(&report);
    if let Some(path) = json {
        write(&path, &report.to_json())?;
    }
    if let Some(path) = junit {
        write(&path, &report.to_junit())?;
    }
    Ok(if report.score == report.max_score {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write(path: &PathBuf, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

fn print_table(report: &Report) {
    println!(
        "{:<22} {:>7}  {:<14} {:>8} {:>7}  first problem",
        "exercise", "points", "status", "compile", "tests"
    );
    for exercise in &report.exercises {
        let first = exercise
            .first_message()
            .map(|message| first_line(message, 70))
            .unwrap_or_default();
        println!(
            "{:<22} {:>7}  {:<14} {:>7.1}s {:>6.1}s  {first}",
            exercise.id,
            format!("{}/{}", exercise.points, exercise.max_points),
            exercise.status.label(),
            exercise.compile_seconds,
            exercise.test_seconds,
        );
    }
    println!(
        "{:<22} {:>7}",
        "total",
        format!("{}/{}", report.score, report.max_score)
    );
}

/// The first meaningful line of a message, cut to `width` characters.
fn first_line(message: &str, width: usize) -> String {
    let line = message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("-->"))
        .unwrap_or_default();
    let mut text: String = line.chars().take(width).collect();
    if line.chars().count() > width {
        text.push('…');
    }
    text
}

pub fn hint(config: &Config, id: &str) -> Result<ExitCode, String> {
    let catalog = Catalog::load(&config.repository()).map_err(|e| e.to_string())?;
    let exercise = catalog.find(id).map_err(|e| e.to_string())?;
    let hint = grading::hints::next_hint(config, exercise)
        .map_err(|e| format!("cannot record the hint: {e}"))?;
    println!(
        "Hint {} of {} for {}:\n\n{}",
        hint.number, hint.of, exercise.id, hint.text
    );
    if hint.number == hint.of {
        println!(
            "\nThat is the last hint. The answer key is solutions/src/{}.",
            exercise.file
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn reset(config: &Config, id: &str, yes: bool) -> Result<ExitCode, String> {
    let catalog = Catalog::load(&config.repository()).map_err(|e| e.to_string())?;
    let exercise = catalog.find(id).map_err(|e| e.to_string())?;
    let file = exercise.exercise_file(&catalog.root);
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(
                "`lab reset` asks before it discards your work; pass --yes to reset without asking"
                    .into(),
            );
        }
        print!(
            "Put {} back as it was? Your changes to it are lost. [y/N] ",
            file.display()
        );
        std::io::stdout().flush().ok();
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(|e| e.to_string())?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("Nothing changed.");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let path = grading::pristine::restore(&catalog, exercise).map_err(|e| e.to_string())?;
    println!("{} is as it was at the start.", path.display());
    Ok(ExitCode::SUCCESS)
}

pub async fn watch(config: &Config) -> Result<ExitCode, String> {
    let catalog = Catalog::load(&config.repository()).map_err(|e| e.to_string())?;
    let mut watcher = grading::watch::Watcher::new(&catalog);
    println!("Watching exercises/src/ for changes; save an exercise to grade it. Ctrl-C stops.");
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for id in watcher.changed() {
            println!("\n{id} changed:");
            match grading::grade(&catalog, Flavor::Exercises, &[id.as_str()]).await {
                Ok(report) => {
                    print_table(&report);
                    if let Some(message) = report.exercises.iter().find_map(|e| e.first_message()) {
                        println!("\n{message}");
                    }
                }
                Err(error) => eprintln!("lab: error: {error}"),
            }
        }
    }
}

pub async fn check_exercises(config: &Config, record: bool) -> Result<ExitCode, String> {
    let catalog = Catalog::load(&config.repository()).map_err(|e| e.to_string())?;
    if record {
        grading::pristine::record(&catalog).map_err(|e| e.to_string())?;
        println!("Recorded the current exercise files as the originals.");
    }
    let report = grading::check::check(&catalog)
        .await
        .map_err(|e| e.to_string())?;
    println!("Untouched exercises:");
    print_table(&report.exercises);
    println!("\nAnswer key:");
    print_table(&report.solutions);
    let compile_errors = report
        .exercises
        .exercises
        .iter()
        .filter(|e| e.status == Status::CompileError)
        .count();
    println!(
        "\n{} exercises: untouched {}/{} with {compile_errors} compile errors, solutions {}/{}.",
        catalog.exercises.len(),
        report.exercises.score,
        report.exercises.max_score,
        report.solutions.score,
        report.solutions.max_score
    );
    if report.problems.is_empty() {
        println!("check-exercises: all good");
        Ok(ExitCode::SUCCESS)
    } else {
        for problem in &report.problems {
            println!("problem: {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}
