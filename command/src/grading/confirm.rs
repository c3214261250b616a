//! Asking before a command throws work away (`lab reset`) or gives an
//! answer away (`lab solution`).
//!
//! The agreement is a value, [`Consent`], that only [`confirm`] makes; the
//! functions that act need one, so none of them can be called without
//! asking first (or being told `--yes`).

use std::io::{BufRead, Write};

/// Proof that the student agreed, by answering yes or passing `--yes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent(());

/// How the question can be put.
pub enum Asker<'a> {
    /// `--yes` was given: the answer is yes without asking.
    Skipped,
    /// A person at a terminal: the question is written to `output` and the
    /// answer read from `input`.
    Terminal {
        /// Where the answer is read.
        input: &'a mut dyn BufRead,
        /// Where the question is written.
        output: &'a mut dyn Write,
    },
    /// No terminal to ask on (a script, a pipe, CI), and no `--yes`.
    NoTerminal,
}

/// The question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// Nobody is there to ask and `--yes` was not given.
    #[error("{refusal}; pass --yes to go ahead without being asked")]
    NoTerminal {
        /// What the command refuses to do without asking.
        refusal: String,
    },
    /// The terminal could not be read or written.
    #[error("cannot ask on the terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// Asks `question` (a `[y/N]` is added) and answers the consent if the
/// reply is `y` or `yes`; anything else, an empty line included, is no.
/// `refusal` says what is not done when nobody can be asked.
pub fn confirm(
    question: &str,
    refusal: &str,
    asker: Asker<'_>,
) -> Result<Option<Consent>, ConfirmError> {
    match asker {
        Asker::Skipped => Ok(Some(Consent(()))),
        Asker::NoTerminal => Err(ConfirmError::NoTerminal {
            refusal: refusal.to_owned(),
        }),
        Asker::Terminal { input, output } => {
            write!(output, "{question} [y/N] ")?;
            output.flush()?;
            let mut answer = String::new();
            input.read_line(&mut answer)?;
            let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
            Ok(yes.then_some(Consent(())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(reply: &str) -> (Option<Consent>, String) {
        let mut input = reply.as_bytes();
        let mut output = Vec::new();
        let consent = confirm(
            "Show it?",
            "not shown",
            Asker::Terminal {
                input: &mut input,
                output: &mut output,
            },
        )
        .unwrap();
        (consent, String::from_utf8(output).unwrap())
    }

    #[test]
    fn only_y_or_yes_is_consent() {
        assert!(ask("y\n").0.is_some());
        assert!(ask("YES\n").0.is_some());
        assert!(ask("n\n").0.is_none());
        assert!(ask("\n").0.is_none());
        assert!(ask("").0.is_none());
        assert!(ask("sure\n").0.is_none());
        assert_eq!(ask("n\n").1, "Show it? [y/N] ");
    }

    #[test]
    fn without_a_terminal_the_answer_is_a_refusal_that_names_yes() {
        let error =
            confirm("Show it?", "the answer key is not shown", Asker::NoTerminal).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the answer key is not shown; pass --yes to go ahead without being asked"
        );
    }

    #[test]
    fn yes_on_the_command_line_asks_nothing() {
        assert!(
            confirm("Show it?", "not shown", Asker::Skipped)
                .unwrap()
                .is_some()
        );
    }
}
