//! Judging a run of a notebook against the outputs stored in it, whichever
//! engine ran it: Jupyter with the evcxr kernel (`lab notebooks check`) or
//! the evcxr crate inside `cargo test`.

use std::path::Path;
use std::time::Duration;

use super::LessonError;
use super::ipynb::{CodeCell, Notebook};
use super::jupyter::Jupyter;
use super::outputs::{CellOutput, difference};

/// How long one cell may run before the check gives up on it. The first
/// cell of a fresh machine builds the drivers (minutes); later cells take
/// seconds.
pub const CELL_TIMEOUT: Duration = Duration::from_secs(900);

/// One code cell, run once.
#[derive(Debug, Clone)]
pub struct CellRun {
    /// The cell as stored.
    pub cell: CodeCell,
    /// What this run printed.
    pub fresh: CellOutput,
    /// How long the cell took, when the engine says.
    pub seconds: Option<f64>,
}

impl CellRun {
    /// What is wrong with this run of the cell, if anything: it failed, or
    /// its output is not the stored one (unless the cell is tagged volatile).
    pub fn problem(&self) -> Option<String> {
        let label = self.cell.label();
        if let Some(error) = &self.fresh.error {
            return Some(format!("{label} failed: {error}"));
        }
        if let Some(error) = &self.cell.stored.error {
            return Some(format!(
                "{label} is stored with an error ({error}); record the notebook after a clean run with `cargo lab notebooks record`"
            ));
        }
        if self.cell.is_volatile() {
            return None;
        }
        difference(&self.cell.stored, &self.fresh).map(|why| format!("{label}: {why}"))
    }
}

/// A whole notebook, run once from top to bottom in a fresh kernel.
#[derive(Debug, Clone)]
pub struct NotebookRun {
    /// The notebook's name, e.g. `01-redis-basics`.
    pub name: String,
    /// Its code cells, in order.
    pub cells: Vec<CellRun>,
}

impl NotebookRun {
    /// Whether the run failed only because some cells' output lost its last
    /// lines (see [`super::outputs::is_truncation_of`]): worth one more run
    /// before calling the notebook broken.
    pub fn only_lost_trailing_output(&self) -> bool {
        let failing: Vec<&CellRun> = self
            .cells
            .iter()
            .filter(|run| run.problem().is_some())
            .collect();
        !failing.is_empty()
            && failing.iter().all(|run| {
                run.cell.stored.error.is_none()
                    && super::outputs::is_truncation_of(&run.cell.stored, &run.fresh)
            })
    }

    /// Everything wrong with the run, one message per cell.
    pub fn problems(&self) -> Vec<String> {
        self.cells.iter().filter_map(CellRun::problem).collect()
    }

    /// How long a fresh kernel took to its first result: the first code cell,
    /// which loads the support crate and connects.
    pub fn first_cell_seconds(&self) -> Option<f64> {
        self.cells.first().and_then(|cell| cell.seconds)
    }

    /// The median time of the cells after the first.
    pub fn median_cell_seconds(&self) -> Option<f64> {
        median(self.cells.iter().skip(1).filter_map(|cell| cell.seconds))
    }

    /// The report printed for this run: a summary line with the timings,
    /// then each problem, indented.
    pub fn report(&self) -> String {
        let problems = self.problems();
        let verdict = if problems.is_empty() { "ok" } else { "FAILED" };
        let mut text = self.summary(verdict);
        for problem in problems {
            text.push_str("\n    ");
            text.push_str(&problem.replace('\n', "\n    "));
        }
        text
    }

    /// One line: the notebook, `verdict`, the number of cells and the times.
    pub fn summary(&self, verdict: &str) -> String {
        let seconds = |value: Option<f64>| value.map_or("-".to_owned(), |s| format!("{s:.1} s"));
        format!(
            "notebook {} ... {verdict} ({} cells; first cell {}, median cell {})",
            self.name,
            self.cells.len(),
            seconds(self.first_cell_seconds()),
            seconds(self.median_cell_seconds()),
        )
    }
}

/// The median of some numbers, `None` for none.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

/// Runs `path` through Jupyter, writing the executed copy into `scratch`,
/// and pairs each stored cell with its fresh output and time. The executed
/// copy comes back too.
pub fn run_in_jupyter(
    jupyter: &Jupyter,
    path: &Path,
    scratch: &Path,
    variables: &[(&str, String)],
) -> Result<(NotebookRun, Notebook), LessonError> {
    let stored = Notebook::load(path)?;
    let executed_path = scratch.join(format!("{}.ipynb", stored.name()));
    jupyter.execute(path, &executed_path, CELL_TIMEOUT, variables)?;
    let executed = Notebook::load(&executed_path)?;
    let fresh_cells = executed.code_cells();
    let timings = executed.execution_seconds();
    let cells = stored
        .code_cells()
        .into_iter()
        .map(|cell| {
            let fresh = fresh_cells
                .iter()
                .find(|fresh| fresh.index == cell.index)
                .map(|fresh| fresh.stored.clone())
                .unwrap_or_else(|| CellOutput {
                    error: Some("the executed copy lacks this cell".into()),
                    ..CellOutput::default()
                });
            let seconds = timings.get(cell.index).copied().flatten();
            CellRun {
                cell,
                fresh,
                seconds,
            }
        })
        .collect();
    Ok((
        NotebookRun {
            name: stored.name(),
            cells,
        },
        executed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(tags: &[&str], stored: &str) -> CodeCell {
        CodeCell {
            index: 3,
            number: 2,
            id: None,
            source: "println!(\"{}\", 1 + 1);".into(),
            tags: tags.iter().map(|tag| tag.to_string()).collect(),
            stored: CellOutput {
                stdout: stored.into(),
                ..CellOutput::default()
            },
        }
    }

    fn run(cell: CodeCell, stdout: &str, error: Option<&str>) -> CellRun {
        CellRun {
            cell,
            fresh: CellOutput {
                stdout: stdout.into(),
                error: error.map(str::to_owned),
                ..CellOutput::default()
            },
            seconds: Some(1.0),
        }
    }

    #[test]
    fn a_cell_passes_when_it_prints_what_is_stored() {
        assert_eq!(run(cell(&[], "2\n"), "2\n", None).problem(), None);
    }

    #[test]
    fn a_changed_output_is_reported_with_the_cell_named() {
        let problem = run(cell(&[], "2\n"), "3\n", None).problem().unwrap();
        assert!(problem.starts_with("code cell 2 (`println!"), "{problem}");
    }

    #[test]
    fn a_volatile_cell_may_print_anything_but_must_not_fail() {
        assert_eq!(
            run(cell(&["volatile"], "2 ms\n"), "3 ms\n", None).problem(),
            None
        );
        let problem = run(cell(&["volatile"], ""), "", Some("panicked"))
            .problem()
            .unwrap();
        assert!(problem.contains("failed: panicked"), "{problem}");
    }

    #[test]
    fn medians_and_first_cell_times() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([]), None);
        let notebook = NotebookRun {
            name: "n".into(),
            cells: vec![run(cell(&[], ""), "", None), run(cell(&[], ""), "", None)],
        };
        assert_eq!(notebook.first_cell_seconds(), Some(1.0));
        assert_eq!(notebook.median_cell_seconds(), Some(1.0));
    }
}
