//! Printing for `lab grade`, `lab hint` and `lab check-exercises`; the work
//! is done in `lab_command::grading`. The student's other tools are in `course_cli`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use lab::Config;
use lab_command::grading::corpus::Kind;
use lab_command::grading::progress::{Moment, Progress};
use lab_command::grading::{self, Catalog, Flavor, Report, Status};

/// A report format for `lab grade --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The report as the lab's own JSON.
    Json,
    /// JUnit XML.
    Junit,
    /// Exercism's results.json, version 3.
    Exercism,
    /// GitHub Classroom's autograding runner results.
    Classroom,
}

/// Where `lab grade` writes its report besides the table.
pub struct Outputs {
    pub json: Option<PathBuf>,
    pub junit: Option<PathBuf>,
    pub format: Option<Format>,
}

pub async fn grade(
    config: &Config,
    id: Option<String>,
    flavor: Flavor,
    outputs: Outputs,
) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.repository())?;
    eprintln!(
        "lab: compiling and testing the {} (the first run builds the dependencies)",
        flavor.name()
    );
    let selected: Vec<&str> = id.iter().map(String::as_str).collect();
    let report = grading::grade(&catalog, flavor, &selected).await?;
    // Only the student's own work is recorded: grading the answer key says
    // nothing of their progress.
    let progress = match flavor {
        Flavor::Exercises => record(config, &report),
        Flavor::Solutions => None,
    };
    match outputs.format {
        None => {
            print_table(&report);
            if let Some(progress) = &progress {
                print_revealed(&report, progress);
            }
            print_problems(&report);
        }
        Some(Format::Json) => println!("{}", report.to_json()),
        Some(Format::Junit) => print!("{}", report.to_junit()),
        Some(Format::Exercism) => println!("{}", grading::formats::exercism(&report, &catalog)),
        Some(Format::Classroom) => println!("{}", grading::formats::classroom(&report, &catalog)),
    }
    if let Some(path) = outputs.json {
        write(&path, &report.to_json())?;
    }
    if let Some(path) = outputs.junit {
        write(&path, &report.to_junit())?;
    }
    Ok(if report.score == report.max_score {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Records `report` in the progress file and answers the progress after
/// it. A failure is reported, not fatal: the grading itself stands.
pub fn record(config: &Config, report: &Report) -> Option<Progress> {
    let recorded = Progress::update(config, |progress| {
        progress.record(report, Moment::now());
        progress.clone()
    });
    match recorded {
        Ok(progress) => Some(progress),
        Err(error) => {
            eprintln!("lab: warning: the grading is not recorded for `cargo lab list`: {error}");
            None
        }
    }
}

/// Under the table, the exercises whose answer key was shown.
pub fn print_revealed(report: &Report, progress: &Progress) {
    for exercise in &report.exercises {
        if let Some(at) = progress.solution_shown(&exercise.id) {
            println!(
                "{}: answer key shown by `cargo lab solution` at {at}",
                exercise.id
            );
        }
    }
}

fn write(path: &PathBuf, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub fn print_table(report: &Report) {
    println!(
        "{:<22} {:>7}  {:<14} {:>8} {:>7}",
        "exercise", "points", "status", "compile", "tests"
    );
    for exercise in &report.exercises {
        println!(
            "{:<22} {:>7}  {:<14} {:>7.1}s {:>6.1}s",
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

/// For each exercise short of full marks, its first problem in full,
/// wrapped: the message is where the lesson is, so none of it is cut.
pub fn print_problems(report: &Report) {
    for exercise in &report.exercises {
        let Some(test) = exercise.tests.iter().find(|t| t.message.is_some()) else {
            continue;
        };
        let message = test.message.as_deref().unwrap_or_default();
        println!(
            "\n{} ({}), test {}:",
            exercise.id,
            exercise.status.label(),
            test.name
        );
        for line in wrap(message, 76) {
            println!("    {line}");
        }
        let failing = exercise.tests.iter().filter(|t| t.points == 0).count();
        if failing > 1 {
            println!(
                "    ({} more failing tests; `cargo lab grade {} --format json` shows every message)",
                failing - 1,
                exercise.id
            );
        }
    }
}

/// `text` in lines of at most `width` characters, broken at spaces; the
/// lines of a compiler error keep their layout.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        if paragraph.starts_with(' ')
            || paragraph.contains(" | ")
            || paragraph.chars().count() <= width
        {
            lines.push(paragraph.to_owned());
            continue;
        }
        let mut line = String::new();
        for word in paragraph.split(' ') {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

pub fn hint(config: &Config, id: &str) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.repository())?;
    let exercise = catalog.find(id)?;
    let hint = grading::hints::next_hint(config, exercise).context("cannot record the hint")?;
    println!(
        "Hint {} of {} for {}:\n\n{}",
        hint.number, hint.of, exercise.id, hint.text
    );
    if hint.number == hint.of {
        println!(
            "\nThat is the last hint. `cargo lab solution {}` shows the answer key \
             (it asks first, and `cargo lab list` notes that you looked).",
            exercise.id
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn check_exercises(config: &Config, record: bool) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.repository())?;
    if record {
        grading::pristine::record(&catalog)
            .context("cannot record the exercise files as the originals")?;
        println!("Recorded the current exercise files as the originals.");
    }
    let report = grading::check::check(&catalog).await?;
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
    let wrong = report.corpus.iter().filter(|v| v.kind == Kind::Wrong);
    let caught = wrong.clone().filter(|v| v.problem.is_none()).count();
    let alternatives = report.corpus.iter().filter(|v| v.kind == Kind::Alternative);
    let accepted = alternatives.clone().filter(|v| v.problem.is_none()).count();
    println!(
        "Corpus: {caught} of {} wrong answers caught by the test that names their mistake, \
         {accepted} of {} alternative answers given full marks.",
        wrong.count(),
        alternatives.count()
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

/// `lab check-exercises --corpus [ID...]`: grades the corpus answers of the
/// named exercises (all when none is named) and shows what each one got.
pub async fn check_corpus(config: &Config, ids: &[String]) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(&config.repository())?;
    for id in ids {
        catalog.find(id)?;
    }
    let mut corpus = grading::corpus::Corpus::load(&catalog)?;
    corpus
        .answers
        .retain(|(id, _)| ids.is_empty() || ids.contains(id));
    let verdicts = grading::corpus::grade(&catalog, &corpus).await?;
    let mut good = true;
    for verdict in &verdicts {
        let kind = match verdict.kind {
            Kind::Wrong => "wrong",
            Kind::Alternative => "alternative",
        };
        let score = verdict
            .result
            .as_ref()
            .map(|r| format!("{}/{}", r.points, r.max_points))
            .unwrap_or_else(|| "-".into());
        let outcome = if verdict.problem.is_none() {
            "ok"
        } else {
            "PROBLEM"
        };
        println!(
            "{outcome:<8} {:<22} {:<36} {kind:<12} {score}",
            verdict.exercise, verdict.answer
        );
        if let Some(problem) = &verdict.problem {
            good = false;
            for line in wrap(problem, 76) {
                println!("    {line}");
            }
        } else if let Some(result) = &verdict.result
            && let Some(test) = result.tests.iter().find(|t| t.message.is_some())
        {
            println!("    {}:", test.name);
            for line in wrap(test.message.as_deref().unwrap_or_default(), 76) {
                println!("    {line}");
            }
        }
    }
    Ok(if good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
