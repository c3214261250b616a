//! What a code cell printed, in a form two runs can be compared in: the
//! stored outputs of a notebook (from Jupyter) and a fresh run (from Jupyter
//! or from the evcxr engine in `cargo test`) both become a [`CellOutput`].

use serde_json::Value;

use super::ipynb::multiline;

/// The outputs of one code cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CellOutput {
    /// Everything written to standard output, in order.
    pub stdout: String,
    /// The cell's value (its final expression), as plain text.
    pub value: Option<String>,
    /// The kinds (MIME types) of rich displays the cell made, a chart's
    /// `image/svg+xml` for instance; their bytes are not compared.
    pub displays: Vec<String>,
    /// The error the cell ended with: a compile error, a panic, or anything
    /// written to standard error. The lessons write nothing there on purpose;
    /// an `Err` returned with `?` lands there in both engines (the kernel
    /// prints it and goes on), so it must count as a failure.
    pub error: Option<String>,
}

impl CellOutput {
    /// Reads the `outputs` list of an nbformat 4 code cell.
    pub fn from_jupyter(outputs: &[Value]) -> CellOutput {
        let mut cell = CellOutput::default();
        for output in outputs {
            match output.get("output_type").and_then(Value::as_str) {
                Some("stream") if output.get("name").and_then(Value::as_str) == Some("stdout") => {
                    cell.stdout.push_str(&multiline(output.get("text")));
                }
                Some("stream") if output.get("name").and_then(Value::as_str) == Some("stderr") => {
                    let text = multiline(output.get("text"));
                    let error = cell.error.get_or_insert_with(String::new);
                    if error.is_empty() {
                        error.push_str("it wrote to standard error: ");
                    }
                    error.push_str(text.trim_end());
                }
                Some("execute_result") | Some("display_data") => {
                    let Some(data) = output.get("data").and_then(Value::as_object) else {
                        continue;
                    };
                    let is_result =
                        output.get("output_type").and_then(Value::as_str) == Some("execute_result");
                    for (mime, content) in data {
                        if mime == "text/plain" && is_result {
                            cell.value = Some(multiline(Some(content)));
                        } else if mime != "text/plain" && mime != "text/html" {
                            cell.displays.push(mime.clone());
                        }
                    }
                }
                Some("error") => {
                    let name = output.get("ename").and_then(Value::as_str).unwrap_or("");
                    let value = output.get("evalue").and_then(Value::as_str).unwrap_or("");
                    cell.error = Some(format!("{name}: {value}").trim_matches([':', ' ']).into());
                }
                _ => {}
            }
        }
        cell
    }

    /// What is compared between runs: standard output and the value, with
    /// trailing spaces and blank lines at the end ignored.
    pub fn comparable(&self) -> String {
        let mut text = normalise(&self.stdout);
        if let Some(value) = &self.value {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&normalise(value));
        }
        text
    }
}

fn normalise(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end_matches('\n')
        .to_owned()
}

/// Whether `fresh` is `stored` with its end missing: the shape of output the
/// Rust kernel sometimes publishes only after it reported the cell done, so
/// that Jupyter's client stops listening before the last lines arrive.
pub fn is_truncation_of(stored: &CellOutput, fresh: &CellOutput) -> bool {
    let (expected, actual) = (stored.comparable(), fresh.comparable());
    fresh.error.is_none() && expected != actual && expected.starts_with(&actual)
}

/// Why a fresh run's output differs from the stored one, or `None` when it
/// does not: the first differing line of each, and the displays that went
/// missing.
pub fn difference(stored: &CellOutput, fresh: &CellOutput) -> Option<String> {
    let (expected, actual) = (stored.comparable(), fresh.comparable());
    if expected != actual {
        let expected_lines: Vec<&str> = expected.lines().collect();
        let actual_lines: Vec<&str> = actual.lines().collect();
        let line = expected_lines
            .iter()
            .zip(&actual_lines)
            .position(|(a, b)| a != b)
            .unwrap_or(expected_lines.len().min(actual_lines.len()));
        let show = |lines: &[&str]| {
            lines
                .get(line)
                .map(|text| format!("{text:?}"))
                .unwrap_or_else(|| "(nothing)".to_owned())
        };
        return Some(format!(
            "output differs from the stored one at line {}: stored {}, now {}\n--- stored\n{expected}\n--- now\n{actual}",
            line + 1,
            show(&expected_lines),
            show(&actual_lines),
        ));
    }
    let missing: Vec<&String> = stored
        .displays
        .iter()
        .filter(|mime| !fresh.displays.contains(mime))
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "the stored output shows {missing:?}, this run did not"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn streams_values_displays_and_errors_are_read_apart() {
        let cell = CellOutput::from_jupyter(&[
            json!({"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}),
            json!({"output_type": "display_data", "data": {"image/svg+xml": "<svg/>", "text/plain": "chart"}}),
            json!({"output_type": "execute_result", "data": {"text/plain": "42", "text/html": "<b>42</b>"}}),
        ]);
        assert_eq!(cell.stdout, "a\nb\n");
        assert_eq!(cell.value.as_deref(), Some("42"));
        assert_eq!(cell.displays, vec!["image/svg+xml".to_owned()]);
        assert_eq!(cell.error, None);
        assert_eq!(cell.comparable(), "a\nb\n42");

        let failed = CellOutput::from_jupyter(&[
            json!({"output_type": "error", "ename": "Error", "evalue": "boom", "traceback": []}),
        ]);
        assert_eq!(failed.error.as_deref(), Some("Error: boom"));

        let returned_err = CellOutput::from_jupyter(&[
            json!({"output_type": "stream", "name": "stdout", "text": "before\n"}),
            json!({"output_type": "stream", "name": "stderr", "text": "Kind: Command failed\n"}),
        ]);
        assert_eq!(
            returned_err.error.as_deref(),
            Some("it wrote to standard error: Kind: Command failed"),
            "an `Err` from `?` is printed on stderr, and the cell has failed"
        );
    }

    #[test]
    fn trailing_space_does_not_count_but_a_changed_line_does() {
        let stored = CellOutput {
            stdout: "count = 3\nok\n".into(),
            ..CellOutput::default()
        };
        let same = CellOutput {
            stdout: "count = 3   \nok".into(),
            ..CellOutput::default()
        };
        assert_eq!(difference(&stored, &same), None);
        let changed = CellOutput {
            stdout: "count = 4\nok\n".into(),
            ..CellOutput::default()
        };
        let message = difference(&stored, &changed).unwrap();
        assert!(message.contains("line 1"), "{message}");
        assert!(message.contains("\"count = 3\"") && message.contains("\"count = 4\""));
    }

    #[test]
    fn a_run_that_lost_its_last_lines_is_told_apart_from_a_changed_one() {
        let stored = CellOutput {
            stdout: "delete_one: 1 deleted\nagain: 0 deleted\n".into(),
            ..CellOutput::default()
        };
        let cut = CellOutput {
            stdout: "delete_one: 1 deleted\n".into(),
            ..CellOutput::default()
        };
        let changed = CellOutput {
            stdout: "delete_one: 2 deleted\n".into(),
            ..CellOutput::default()
        };
        assert!(is_truncation_of(&stored, &cut));
        assert!(!is_truncation_of(&stored, &changed));
        assert!(
            !is_truncation_of(&stored, &stored),
            "equal is not truncated"
        );
    }

    #[test]
    fn a_chart_that_no_longer_shows_is_a_difference() {
        let stored = CellOutput {
            displays: vec!["image/svg+xml".into()],
            ..CellOutput::default()
        };
        let message = difference(&stored, &CellOutput::default()).unwrap();
        assert!(message.contains("image/svg+xml"), "{message}");
    }
}
