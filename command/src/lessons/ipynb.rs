//! Reading and writing Jupyter notebooks (nbformat 4) without losing anything
//! this module does not know about: the document stays a JSON value, and the
//! accessors read the few fields the lab needs.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::LessonError;
use super::outputs::CellOutput;

/// The cell tag that marks outputs which differ from run to run (timings,
/// ports, random ids). Such a cell must still run cleanly; its output is not
/// compared with the stored one.
pub const VOLATILE_TAG: &str = "volatile";

/// A notebook file.
#[derive(Debug, Clone)]
pub struct Notebook {
    path: PathBuf,
    document: Value,
}

/// One code cell, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeCell {
    /// Position among all cells of the notebook, markdown included.
    pub index: usize,
    /// 1-based number among the code cells, as a reader counts them.
    pub number: usize,
    /// The cell's id (nbformat 4.5), when it has one.
    pub id: Option<String>,
    /// The code.
    pub source: String,
    /// The cell's tags (`metadata.tags`).
    pub tags: Vec<String>,
    /// The outputs stored in the file.
    pub stored: CellOutput,
}

impl CodeCell {
    /// Whether the cell's output is allowed to change between runs.
    pub fn is_volatile(&self) -> bool {
        self.tags.iter().any(|tag| tag == VOLATILE_TAG)
    }

    /// A short name for messages: the number and the first line of code.
    pub fn label(&self) -> String {
        let first = self.source.lines().next().unwrap_or("").trim();
        let first: String = first.chars().take(60).collect();
        format!("code cell {} (`{first}`)", self.number)
    }
}

impl Notebook {
    /// Reads a notebook file.
    pub fn load(path: &Path) -> Result<Notebook, LessonError> {
        let text = std::fs::read_to_string(path).map_err(|source| LessonError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        })?;
        let document: Value =
            serde_json::from_str(&text).map_err(|error| LessonError::Malformed {
                path: path.to_owned(),
                reason: error.to_string(),
            })?;
        if !document.get("cells").is_some_and(Value::is_array) {
            return Err(LessonError::Malformed {
                path: path.to_owned(),
                reason: "it has no `cells` list; is it a Jupyter notebook?".into(),
            });
        }
        Ok(Notebook {
            path: path.to_owned(),
            document,
        })
    }

    /// Where the notebook is stored.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file name without `.ipynb`, e.g. `01-redis-basics`.
    pub fn name(&self) -> String {
        self.path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The kernel the notebook asks for (`metadata.kernelspec.name`).
    pub fn kernel(&self) -> Option<&str> {
        self.document
            .pointer("/metadata/kernelspec/name")
            .and_then(Value::as_str)
    }

    /// The code cells, in order.
    pub fn code_cells(&self) -> Vec<CodeCell> {
        let mut number = 0;
        self.cells()
            .iter()
            .enumerate()
            .filter(|(_, cell)| cell.get("cell_type").and_then(Value::as_str) == Some("code"))
            .map(|(index, cell)| {
                number += 1;
                CodeCell {
                    index,
                    number,
                    id: cell.get("id").and_then(Value::as_str).map(str::to_owned),
                    source: multiline(cell.get("source")),
                    tags: cell
                        .pointer("/metadata/tags")
                        .and_then(Value::as_array)
                        .map(|tags| {
                            tags.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                    stored: CellOutput::from_jupyter(
                        cell.get("outputs")
                            .and_then(Value::as_array)
                            .map(Vec::as_slice)
                            .unwrap_or_default(),
                    ),
                }
            })
            .collect()
    }

    /// The markdown text of the notebook, all cells joined: what a reader reads.
    pub fn markdown(&self) -> String {
        self.cells()
            .iter()
            .filter(|cell| cell.get("cell_type").and_then(Value::as_str) == Some("markdown"))
            .map(|cell| multiline(cell.get("source")))
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// Per cell (by index among all cells, markdown included), the seconds
    /// between Jupyter sending it to the kernel and the kernel's reply, from
    /// the timing metadata `nbconvert` records; `None` where there is none.
    pub fn execution_seconds(&self) -> Vec<Option<f64>> {
        self.cells()
            .iter()
            .map(|cell| {
                let stamp = |key: &str| {
                    cell.get("metadata")?
                        .get("execution")?
                        .get(key)?
                        .as_str()
                        .and_then(seconds_since_epoch)
                };
                Some(stamp("shell.execute_reply")? - stamp("iopub.execute_input")?)
            })
            .collect()
    }

    /// Takes the outputs and execution counts of `executed` (the same
    /// notebook after a run) into this one, and drops the per-run timing
    /// metadata that Jupyter adds, so a stored notebook changes only where
    /// its outputs do.
    pub fn take_outputs(&mut self, executed: &Notebook) -> Result<(), LessonError> {
        let theirs = executed.cells();
        let path = self.path.clone();
        let ours = self
            .document
            .get_mut("cells")
            .and_then(Value::as_array_mut)
            .expect("checked on load");
        if ours.len() != theirs.len() {
            return Err(LessonError::Malformed {
                path,
                reason: format!(
                    "the executed copy has {} cells where the notebook has {}",
                    theirs.len(),
                    ours.len()
                ),
            });
        }
        for (mine, executed) in ours.iter_mut().zip(theirs) {
            let Some(mine) = mine.as_object_mut() else {
                continue;
            };
            if mine.get("cell_type").and_then(Value::as_str) != Some("code") {
                continue;
            }
            for key in ["outputs", "execution_count"] {
                mine.insert(
                    key.into(),
                    executed.get(key).cloned().unwrap_or(Value::Null),
                );
            }
            if let Some(metadata) = mine.get_mut("metadata").and_then(Value::as_object_mut) {
                metadata.remove("execution");
            }
        }
        Ok(())
    }

    /// Writes the notebook back, in the layout Jupyter itself writes (one
    /// space of indentation, a final newline), so saving from Jupyter and
    /// saving from the lab give the same file.
    pub fn save(&self) -> Result<(), LessonError> {
        let mut bytes = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
        let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, formatter);
        serde::Serialize::serialize(&self.document, &mut serializer)
            .expect("a JSON value always serialises");
        bytes.push(b'\n');
        std::fs::write(&self.path, bytes).map_err(|source| LessonError::Io {
            context: format!("cannot write {}", self.path.display()),
            source,
        })
    }

    fn cells(&self) -> &[Value] {
        self.document
            .get("cells")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// A notebook text field: one string, or a list of lines to join.
pub(crate) fn multiline(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(lines)) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

/// Seconds since 1970 of an ISO 8601 UTC timestamp as Jupyter writes them
/// (`2026-11-21T07:44:12.123456Z`).
fn seconds_since_epoch(stamp: &str) -> Option<f64> {
    let (date, time) = stamp.trim_end_matches('Z').split_once('T')?;
    let mut date_parts = date.split('-').map(str::parse::<i64>);
    let (year, month, day) = (
        date_parts.next()?.ok()?,
        date_parts.next()?.ok()?,
        date_parts.next()?.ok()?,
    );
    let time = time.split(['+']).next()?;
    let mut time_parts = time.split(':');
    let hours: f64 = time_parts.next()?.parse().ok()?;
    let minutes: f64 = time_parts.next()?.parse().ok()?;
    let seconds: f64 = time_parts.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days as f64 * 86_400.0 + hours * 3600.0 + minutes * 60.0 + seconds)
}

/// The notebooks in `dir` (`*.ipynb`, not Jupyter's checkpoints), by name.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, LessonError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LessonError::Io {
        context: format!("cannot list {}", dir.display()),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ipynb"))
        .collect();
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        serde_json::json!({
            "nbformat": 4, "nbformat_minor": 5,
            "metadata": {"kernelspec": {"name": "rust"}},
            "cells": [
                {"cell_type": "markdown", "id": "m", "metadata": {}, "source": ["# Title\n", "text"]},
                {"cell_type": "code", "id": "a", "metadata": {"tags": ["volatile"]},
                 "source": "let x = 1;\nx", "execution_count": 1,
                 "outputs": [{"output_type": "execute_result", "execution_count": 1,
                              "data": {"text/plain": "1"}, "metadata": {}}]},
                {"cell_type": "code", "id": "b", "metadata": {}, "source": ["println!(\"hi\");"],
                 "execution_count": 2,
                 "outputs": [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]}
            ]
        })
    }

    fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path
    }

    #[test]
    fn code_cells_carry_source_tags_and_outputs() {
        let dir = tempdir();
        let notebook = Notebook::load(&write(&dir, "n.ipynb", &sample())).unwrap();
        let cells = notebook.code_cells();
        assert_eq!(cells.len(), 2);
        assert_eq!((cells[0].index, cells[0].number), (1, 1));
        assert!(cells[0].is_volatile());
        assert_eq!(cells[0].stored.value.as_deref(), Some("1"));
        assert_eq!(cells[1].source, "println!(\"hi\");");
        assert_eq!(cells[1].stored.stdout, "hi\n");
        assert!(!cells[1].is_volatile());
        assert_eq!(notebook.kernel(), Some("rust"));
        assert_eq!(notebook.markdown(), "# Title\ntext");
    }

    #[test]
    fn taking_outputs_drops_timing_metadata_and_keeps_everything_else() {
        let dir = tempdir();
        let path = write(&dir, "n.ipynb", &sample());
        let mut executed = sample();
        executed["cells"][2]["outputs"][0]["text"] = "changed\n".into();
        executed["cells"][2]["metadata"]["execution"] = serde_json::json!({"x": 1});
        let executed = Notebook::load(&write(&dir, "e.ipynb", &executed)).unwrap();
        let mut notebook = Notebook::load(&path).unwrap();
        notebook.take_outputs(&executed).unwrap();
        notebook.save().unwrap();
        let saved = Notebook::load(&path).unwrap();
        assert_eq!(saved.code_cells()[1].stored.stdout, "changed\n");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"execution\""));
        assert!(text.starts_with("{\n \""), "Jupyter's one-space layout");
    }

    #[test]
    fn a_file_that_is_not_a_notebook_is_refused_with_its_name() {
        let dir = tempdir();
        let path = write(&dir, "bad.ipynb", &serde_json::json!({"hello": 1}));
        let error = Notebook::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("bad.ipynb") && error.contains("cells"),
            "{error}"
        );
    }

    #[test]
    fn jupyter_timestamps_become_seconds() {
        let start = seconds_since_epoch("2026-11-21T07:44:12.250000Z").unwrap();
        let end = seconds_since_epoch("2026-11-21T07:44:14.750000Z").unwrap();
        assert!((end - start - 2.5).abs() < 1e-6);
        assert_eq!(seconds_since_epoch("1970-01-02T00:00:00Z"), Some(86_400.0));
        assert_eq!(seconds_since_epoch("yesterday"), None);
    }

    #[test]
    fn execution_times_come_from_jupyters_timing_metadata() {
        let dir = tempdir();
        let mut timed = sample();
        timed["cells"][2]["metadata"]["execution"] = serde_json::json!({
            "iopub.execute_input": "2026-11-21T07:44:12.250000Z",
            "shell.execute_reply": "2026-11-21T07:44:13.750000Z",
        });
        let notebook = Notebook::load(&write(&dir, "timed.ipynb", &timed)).unwrap();
        assert_eq!(notebook.execution_seconds(), vec![None, None, Some(1.5)]);
    }

    fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lab-ipynb-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
