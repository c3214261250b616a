//! Printing for the student's tools around grading: `lab list`, `lab next`,
//! `lab watch`, `lab reset` and `lab solution`. The decisions are made in
//! `lab_command::grading` (`course`, `watch`, `reset`, `solution`, `confirm`).

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use lab::Config;
use lab_command::grading::confirm::{self, Asker, Consent};
use lab_command::grading::course::{self, Standing};
use lab_command::grading::progress::Progress;
use lab_command::grading::watch::{self, Step};
use lab_command::grading::{self, Catalog, Exercise, Flavor, Status};

use crate::grading_cli::{print_problems, print_revealed, print_table, record};

fn catalog(config: &Config) -> anyhow::Result<Catalog> {
    Ok(Catalog::load(&config.repository())?)
}

fn progress(config: &Config) -> anyhow::Result<Progress> {
    Ok(Progress::load(config)?)
}

/// `lab list`: every exercise in course order with its status from the
/// last grading, read from the progress file.
pub fn list(config: &Config) -> anyhow::Result<ExitCode> {
    let catalog = catalog(config)?;
    let progress = progress(config)?;
    let overview = course::overview(&catalog, &progress);
    let rated = catalog
        .exercises
        .iter()
        .any(|e| e.difficulty.is_some() || e.minutes.is_some());
    let rating = |exercise: &Exercise| {
        let difficulty = exercise.difficulty.map_or("", |d| d.label());
        let minutes = exercise
            .minutes
            .map(|m| format!("~{m} min"))
            .unwrap_or_default();
        format!("{difficulty:<7} {minutes:<8} ")
    };
    let header = if rated {
        format!("{:<7} {:<8} ", "level", "time")
    } else {
        String::new()
    };
    println!(
        "{:>2}  {:<22} {:<11} {:>6}  {header}lesson",
        "#", "exercise", "status", "points"
    );
    for (number, entry) in overview.entries.iter().enumerate() {
        let exercise = entry.exercise;
        let notebook = course::notebook_of(&catalog.root, &exercise.lesson)
            .map(|path| format!(" ({})", path.display()))
            .unwrap_or_default();
        let shown = if entry.solution_shown.is_some() {
            "  [answer key shown]"
        } else {
            ""
        };
        println!(
            "{:>2}  {:<22} {:<11} {:>6}  {}{}{notebook}{shown}",
            number + 1,
            exercise.id,
            entry.standing.label(),
            exercise.max_points(),
            if rated {
                rating(exercise)
            } else {
                String::new()
            },
            exercise.lesson,
        );
    }
    let shown = overview
        .entries
        .iter()
        .filter(|entry| entry.solution_shown.is_some())
        .count();
    let shown = if shown > 0 {
        format!("; answer key shown for {shown}")
    } else {
        String::new()
    };
    println!(
        "    {:<22} {}/{} points, {} of {} exercises done{shown}",
        "total",
        overview.points,
        overview.max,
        overview.done,
        overview.entries.len()
    );
    if progress.exercises.is_empty() {
        println!("\nNothing graded yet. `cargo lab next` names the first exercise.");
    } else {
        println!(
            "\nStatus from the last gradings, kept in {}; `cargo lab grade` updates it.",
            Progress::path(config).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `lab next`: the first unfinished exercise and how to work on it.
pub fn next(config: &Config) -> anyhow::Result<ExitCode> {
    let catalog = catalog(config)?;
    let progress = progress(config)?;
    let Some(exercise) = course::next_unfinished(&catalog, &progress) else {
        let overview = course::overview(&catalog, &progress);
        println!(
            "Every exercise is done: {}/{} points.",
            overview.points, overview.max
        );
        return Ok(ExitCode::SUCCESS);
    };
    println!("Next: {}, {}", exercise.id, exercise.title);
    print_whereabouts(&catalog, &progress, exercise);
    println!("  grade:   cargo lab grade {}", exercise.id);
    println!(
        "  stuck:   cargo lab hint {}   (or `cargo lab watch` to grade on every save)",
        exercise.id
    );
    Ok(ExitCode::SUCCESS)
}

/// An exercise's status, file and lesson, as `lab next` and `lab watch` show them.
fn print_whereabouts(catalog: &Catalog, progress: &Progress, exercise: &Exercise) {
    let standing = match Standing::of(progress, &exercise.id) {
        Standing::NotGraded => format!("not graded ({} points)", exercise.max_points()),
        standing => format!("{} at the last grading", standing.label()),
    };
    println!("  status:  {standing}");
    println!("  file:    {}", course::exercise_path(exercise));
    let notebook = course::notebook_of(&catalog.root, &exercise.lesson)
        .map(|path| format!(", notebook {}", path.display()))
        .unwrap_or_default();
    println!("  lesson:  {}{notebook}", exercise.lesson);
}

/// Asks on the terminal, or takes `--yes`, or refuses when neither can be had.
fn ask(question: &str, refusal: &str, yes: bool) -> anyhow::Result<Option<Consent>> {
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut input = stdin.lock();
    let mut output = std::io::stdout();
    let asker = if yes {
        Asker::Skipped
    } else if terminal {
        Asker::Terminal {
            input: &mut input,
            output: &mut output,
        }
    } else {
        Asker::NoTerminal
    };
    Ok(confirm::confirm(question, refusal, asker)?)
}

/// `lab reset ID` or `lab reset --all`.
pub fn reset(config: &Config, id: Option<&str>, yes: bool) -> anyhow::Result<ExitCode> {
    let catalog = catalog(config)?;
    let (exercises, question): (Vec<&Exercise>, String) = match id {
        Some(id) => {
            let exercise = catalog.find(id)?;
            let question = format!(
                "Put {} back as it was? Your changes to it are lost.",
                course::exercise_path(exercise)
            );
            (vec![exercise], question)
        }
        None => {
            let question = format!(
                "Put all {} exercise files back as they were? All your changes to them are \
                 lost and their gradings forgotten.",
                catalog.exercises.len()
            );
            (catalog.exercises.iter().collect(), question)
        }
    };
    let Some(consent) = ask(&question, "`lab reset` did not discard your work", yes)? else {
        println!("Nothing changed.");
        return Ok(ExitCode::SUCCESS);
    };
    let written = grading::reset::reset(config, &catalog, &exercises, consent)?;
    for exercise in &exercises {
        println!(
            "{} is as it was at the start.",
            course::exercise_path(exercise)
        );
    }
    if written.len() > 1 {
        println!("{} exercises reset.", written.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// `lab solution ID`: the answer key, after the student agrees.
pub fn solution(config: &Config, id: &str, yes: bool) -> anyhow::Result<ExitCode> {
    let catalog = catalog(config)?;
    let exercise = catalog.find(id)?;
    let question = format!(
        "Show the answer key of {id}? Try `cargo lab hint {id}` first; \
         the reveal is recorded and `cargo lab list` shows it."
    );
    let Some(consent) = ask(&question, "the answer key is not shown", yes)? else {
        println!("Not shown. `cargo lab hint {id}` gives the next hint.");
        return Ok(ExitCode::SUCCESS);
    };
    let solution = grading::solution::reveal(config, &catalog, exercise, consent)?;
    println!("{}:\n", solution.path.display());
    print!("{}", solution.text);
    if !solution.text.ends_with('\n') {
        println!();
    }
    println!(
        "\n(The answer key of {id} is now marked as shown in `cargo lab list` and `cargo lab grade`.)"
    );
    Ok(ExitCode::SUCCESS)
}

/// `lab watch [ID]`: follows one exercise, grades it on every save of its
/// file, and after a pass moves on to the next unfinished one. Saving
/// another exercise's file makes that one followed.
pub async fn watch(config: &Config, start: Option<&str>) -> anyhow::Result<ExitCode> {
    let catalog = catalog(config)?;
    let mut current: Option<&Exercise> = match start {
        Some(id) => Some(catalog.find(id)?),
        None => course::next_unfinished(&catalog, &progress(config)?),
    };
    let mut watcher = grading::watch::Watcher::new(&catalog);
    match current {
        Some(exercise) => {
            println!("Following {}, {}:", exercise.id, exercise.title);
            print_whereabouts(&catalog, &progress(config)?, exercise);
            println!("Save the file to grade it. Ctrl-C stops.");
        }
        None => println!("Every exercise is done; watching exercises/src/ anyway. Ctrl-C stops."),
    }
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for id in watcher.changed() {
            let exercise = catalog.find(&id)?;
            if current.is_none_or(|current| current.id != id) {
                println!("\nNow following {id}, whose file you saved.");
                current = Some(exercise);
            }
            println!("\n{id} changed; grading it:");
            let report = match grading::grade(&catalog, Flavor::Exercises, &[id.as_str()]).await {
                Ok(report) => report,
                Err(error) => {
                    eprintln!("lab: error: {error}");
                    continue;
                }
            };
            print_table(&report);
            let progress = record(config, &report);
            if let Some(progress) = &progress {
                print_revealed(&report, progress);
            }
            print_problems(&report);
            let passed = report
                .exercises
                .iter()
                .all(|result| result.status == Status::Passed);
            let progress = progress.unwrap_or_default();
            match watch::after_grading(&catalog, &progress, &id, passed) {
                Step::Stay => println!("\nStill on {id}: save it again to re-grade."),
                Step::MoveOn(next) => {
                    println!("\n{id} passed. Moving on to {}, {}:", next.id, next.title);
                    print_whereabouts(&catalog, &progress, next);
                    println!("Save it to grade it.");
                    current = Some(next);
                }
                Step::AllDone => {
                    let overview = course::overview(&catalog, &progress);
                    println!(
                        "\n{id} passed, and every exercise is done: {}/{} points.",
                        overview.points, overview.max
                    );
                    current = None;
                }
            }
        }
    }
}
