//! The README tables that repeat `exercises/exercises.toml`: each
//! exercise's points in `README.md` (and the total, if a row states one),
//! and each lesson's exercise minutes in `notebooks/README.md`. Part of the
//! check in `declarations.rs`.
//!
//! The tables are Markdown written by hand, found by their column names
//! (`Exercise` and `Points`; `Exercises` and `Time`), so the prose around
//! them can change freely.

use std::collections::{BTreeMap, BTreeSet};

use super::catalog::{Catalog, Exercise};

/// Every disagreement between the catalogue and the README tables.
pub(super) fn problems(catalog: &Catalog) -> Vec<String> {
    let read = |path: &str| std::fs::read_to_string(catalog.root.join(path)).unwrap_or_default();
    let mut problems = points(catalog, &read("README.md"));
    problems.extend(minutes(catalog, &read("notebooks/README.md")));
    problems
}

/// `README.md`'s exercise table: a row for each exercise, with the sum of
/// its tests' points.
fn points(catalog: &Catalog, readme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(table) = Table::find(readme, &["Exercise", "Points"]) else {
        problems.push(
            "README.md has no exercise table (columns `| Exercise | Lesson | Points |`): add one, a row per exercise of exercises/exercises.toml"
                .to_owned(),
        );
        return problems;
    };
    let mut listed = BTreeSet::new();
    for row in &table.rows {
        let first = table.cell(row, "Exercise");
        let stated = table.cell(row, "Points");
        let (what, expected) = if first.trim_matches('*').eq_ignore_ascii_case("total") {
            let total: u32 = catalog.exercises.iter().map(Exercise::max_points).sum();
            ("the course".to_owned(), total)
        } else {
            let id = first.trim_matches('`');
            let Ok(exercise) = catalog.find(id) else {
                problems.push(format!(
                    "README.md line {}: the exercise table has a row for `{id}`, which exercises/exercises.toml does not list: remove the row or add the exercise",
                    row.line
                ));
                continue;
            };
            listed.insert(id);
            (format!("`{id}`"), exercise.max_points())
        };
        if stated.parse::<u32>() != Ok(expected) {
            problems.push(format!(
                "README.md line {}: the exercise table gives {what} {stated} points, but its tests in exercises/exercises.toml add up to {expected}: write {expected}",
                row.line
            ));
        }
    }
    for exercise in &catalog.exercises {
        if !listed.contains(exercise.id.as_str()) {
            problems.push(format!(
                "README.md's exercise table has no row for `{}`: add `| `{}` | {} | {} |` in course order",
                exercise.id,
                exercise.id,
                exercise.lesson,
                exercise.max_points()
            ));
        }
    }
    problems
}

/// `notebooks/README.md`'s lessons, if it lists them with times: each
/// exercise in one row, and each row's time `NOTEBOOK + EXERCISES min` with
/// the sum of its exercises' minutes.
fn minutes(catalog: &Catalog, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(table) = Table::find(text, &["Exercises", "Time"]) else {
        return problems;
    };
    let mut row_of: BTreeMap<&str, usize> = BTreeMap::new();
    for row in &table.rows {
        let mut exercises = Vec::new();
        for name in code_spans(table.cell(row, "Exercises")) {
            if let Ok(exercise) = catalog.find(name) {
                if let Some(earlier) = row_of.insert(&exercise.id, row.line) {
                    problems.push(format!(
                        "notebooks/README.md lines {earlier} and {} both list `{name}`: keep it in its lesson's row only",
                        row.line
                    ));
                }
                exercises.push(exercise);
            } else if is_id_shaped(name) {
                problems.push(format!(
                    "notebooks/README.md line {} lists `{name}`, which exercises/exercises.toml does not: correct the id or remove it",
                    row.line
                ));
            }
        }
        let time = table.cell(row, "Time");
        let numbers: Result<Vec<u32>, _> = time
            .trim_end_matches("min")
            .split('+')
            .map(|part| part.trim().parse::<u32>())
            .collect();
        let (notebook, stated) = match numbers.as_deref() {
            Ok([notebook]) => (*notebook, 0),
            Ok([notebook, exercises]) => (*notebook, *exercises),
            _ => {
                problems.push(format!(
                    "notebooks/README.md line {}: the time {time:?} is not `NOTEBOOK + EXERCISES min`: write it so",
                    row.line
                ));
                continue;
            }
        };
        let expected: u32 = exercises.iter().filter_map(|e| e.minutes).sum();
        if stated != expected {
            let ids: Vec<&str> = exercises.iter().map(|e| e.id.as_str()).collect();
            let fixed = match expected {
                0 => format!("{notebook} min"),
                _ => format!("{notebook} + {expected} min"),
            };
            problems.push(format!(
                "notebooks/README.md line {}: the time {time:?} gives the exercises ({}) {stated} minutes, but their `minutes` in exercises/exercises.toml add up to {expected}: write `{fixed}`",
                row.line,
                if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
            ));
        }
    }
    for exercise in &catalog.exercises {
        if !row_of.contains_key(exercise.id.as_str()) {
            problems.push(format!(
                "notebooks/README.md's lessons table lists `{}` in no row: add it, and its {} minutes, to the row of its lesson ({})",
                exercise.id,
                exercise.minutes.unwrap_or(0),
                exercise.lesson
            ));
        }
    }
    problems
}

/// A Markdown table: its column names and its rows.
struct Table {
    columns: Vec<String>,
    rows: Vec<Row>,
}

/// A row of a table and its line number (from 1), for the messages.
struct Row {
    line: usize,
    cells: Vec<String>,
}

impl Table {
    /// The first table in `text` whose header has all the `columns`.
    fn find(text: &str, columns: &[&str]) -> Option<Table> {
        let lines: Vec<&str> = text.lines().collect();
        let header = lines.iter().position(|line| {
            let cells = cells(line);
            line.trim_start().starts_with('|')
                && columns
                    .iter()
                    .all(|column| cells.iter().any(|c| c == column))
        })?;
        // The line after the header separates it from the rows.
        let rows = lines
            .iter()
            .enumerate()
            .skip(header + 2)
            .take_while(|(_, line)| line.trim_start().starts_with('|'))
            .map(|(index, line)| Row {
                line: index + 1,
                cells: cells(line),
            })
            .collect();
        Some(Table {
            columns: cells(lines[header]),
            rows,
        })
    }

    /// The cell of `row` in column `column`, or "" when the row is short.
    fn cell<'a>(&self, row: &'a Row, column: &str) -> &'a str {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|index| row.cells.get(index))
            .map_or("", String::as_str)
    }
}

/// The trimmed cells of a table line, `\|` not splitting a cell.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut previous = ' ';
    for c in inner.chars() {
        if c == '|' && previous != '\\' {
            cells.push(std::mem::take(&mut cell));
        } else {
            cell.push(c);
        }
        previous = c;
    }
    cells.push(cell);
    cells.iter().map(|cell| cell.trim().to_owned()).collect()
}

/// The texts between backticks in `text`.
fn code_spans(text: &str) -> impl Iterator<Item = &str> {
    text.split('`').skip(1).step_by(2)
}

/// Whether `text` could be an exercise id (`jobs-endpoint`), rather than
/// a command or a notebook's name in the same cell.
fn is_id_shaped(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const CATALOG: &str = r#"
        [[exercise]]
        id = "redis-strings"
        title = "Strings"
        lesson = "01 Redis basics"
        minutes = 20
        file = "redis/strings.rs"
        hints = ["one"]
        tests = [{ name = "stores", points = 2 }, { name = "counts", points = 3 }]

        [[exercise]]
        id = "jobs-endpoint"
        title = "Endpoint"
        lesson = "10 The whole system"
        minutes = 30
        file = "jobs/endpoint.rs"
        hints = ["one"]
        tests = [{ name = "answers", points = 4 }]
    "#;

    const README: &str = "Intro.\n\n| Exercise | Lesson | Points |\n| --- | --- | --- |\n\
        | `redis-strings` | 01 Redis basics: SET \\| GET | 5 |\n\
        | `jobs-endpoint` | 10 The whole system | 4 |\n\nAfter.\n";

    const LESSONS: &str = "| Part | Notebook | Exercises | Time |\n| --- | --- | --- | --- |\n\
        | Redis | `01-redis-basics` | `redis-strings` | 40 + 20 min |\n\
        | Jobs | `10-the-whole-system` | then `jobs-endpoint` | 45 + 30 min |\n\
        | Scaling | `11-redis-cluster` | none; try `cargo lab up --redis-cluster` | 35 min |\n";

    fn catalog() -> Catalog {
        Catalog::parse(Path::new("/repo"), CATALOG).unwrap()
    }

    #[test]
    fn tables_that_agree_with_the_catalogue_have_no_problems() {
        assert_eq!(points(&catalog(), README), Vec::<String>::new());
        assert_eq!(minutes(&catalog(), LESSONS), Vec::<String>::new());
    }

    #[test]
    fn wrong_points_name_the_line_and_the_right_number() {
        let readme = README.replace("| 4 |", "| 6 |");
        assert_eq!(
            points(&catalog(), &readme),
            [
                "README.md line 6: the exercise table gives `jobs-endpoint` 6 points, \
              but its tests in exercises/exercises.toml add up to 4: write 4"
            ]
        );
    }

    #[test]
    fn a_missing_row_and_a_row_of_no_exercise_are_reported() {
        let readme = README.replace("`jobs-endpoint`", "`jobs-endpoints`");
        assert_eq!(
            points(&catalog(), &readme),
            [
                "README.md line 6: the exercise table has a row for `jobs-endpoints`, which \
                 exercises/exercises.toml does not list: remove the row or add the exercise",
                "README.md's exercise table has no row for `jobs-endpoint`: add \
                 `| `jobs-endpoint` | 10 The whole system | 4 |` in course order",
            ]
        );
    }

    #[test]
    fn a_total_row_is_checked_against_the_sum_of_all_points() {
        let right = README.replace("\n\nAfter", "\n| **Total** | | 9 |\n\nAfter");
        assert_eq!(points(&catalog(), &right), Vec::<String>::new());
        let wrong = right.replace("| 9 |", "| 10 |");
        assert_eq!(
            points(&catalog(), &wrong),
            [
                "README.md line 7: the exercise table gives the course 10 points, \
              but its tests in exercises/exercises.toml add up to 9: write 9"
            ]
        );
    }

    #[test]
    fn a_readme_without_the_exercise_table_is_reported() {
        let problems = points(&catalog(), "# Lab\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("README.md has no exercise table"));
    }

    #[test]
    fn wrong_exercise_minutes_name_the_row_and_the_right_time() {
        let lessons = LESSONS.replace("40 + 20 min", "40 + 25 min");
        assert_eq!(
            minutes(&catalog(), &lessons),
            [
                "notebooks/README.md line 3: the time \"40 + 25 min\" gives the exercises \
              (redis-strings) 25 minutes, but their `minutes` in exercises/exercises.toml \
              add up to 20: write `40 + 20 min`"
            ]
        );
    }

    #[test]
    fn an_exercise_in_no_row_twice_or_unknown_is_reported() {
        let lessons = LESSONS
            .replace("then `jobs-endpoint`", "`jobs-endpont`")
            .replace("none; try", "`redis-strings`, try");
        let problems = minutes(&catalog(), &lessons);
        assert_eq!(
            problems,
            [
                "notebooks/README.md line 4 lists `jobs-endpont`, which exercises/exercises.toml \
                 does not: correct the id or remove it",
                "notebooks/README.md line 4: the time \"45 + 30 min\" gives the exercises (none) \
                 30 minutes, but their `minutes` in exercises/exercises.toml add up to 0: \
                 write `45 min`",
                "notebooks/README.md lines 3 and 5 both list `redis-strings`: keep it in its \
                 lesson's row only",
                "notebooks/README.md line 5: the time \"35 min\" gives the exercises \
                 (redis-strings) 0 minutes, but their `minutes` in exercises/exercises.toml \
                 add up to 20: write `35 + 20 min`",
                "notebooks/README.md's lessons table lists `jobs-endpoint` in no row: add it, \
                 and its 30 minutes, to the row of its lesson (10 The whole system)",
            ]
        );
    }

    #[test]
    fn a_lessons_page_without_times_is_not_checked() {
        assert_eq!(
            minutes(
                &catalog(),
                "| Notebook | Exercises |\n| --- | --- |\n| `01` | none |\n"
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn escaped_bars_stay_inside_their_cell() {
        assert_eq!(cells("| `a` | b \\| c | 3 |"), ["`a`", "b \\| c", "3"]);
    }
}
