//! `lab hint`: one more hint each time it is asked, as in a tutorial where
//! the first hint nudges and the last nearly gives the answer away.

use std::collections::BTreeMap;

use super::catalog::Exercise;
use lab::config::Config;

/// The hint to show next, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// 1-based number of this hint.
    pub number: usize,
    /// How many hints the exercise has.
    pub of: usize,
    /// The hint.
    pub text: String,
}

/// Shows the next hint of `exercise` and remembers that it was shown.
/// After the last hint, the last one is shown again.
pub fn next_hint(config: &Config, exercise: &Exercise) -> std::io::Result<Hint> {
    let path = config.home.join("hints.json");
    let mut shown: BTreeMap<String, usize> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let count = shown.entry(exercise.id.clone()).or_default();
    let index = (*count).min(exercise.hints.len() - 1);
    *count = index + 1;
    std::fs::create_dir_all(&config.home)?;
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&shown).expect("a map serialises"),
    )?;
    Ok(Hint {
        number: index + 1,
        of: exercise.hints.len(),
        text: exercise.hints[index].clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_come_one_at_a_time_and_the_last_repeats() {
        let home = std::env::temp_dir().join(format!("lab-hints-{}", std::process::id()));
        let config = Config::for_home(&home, Vec::new());
        let exercise = Exercise::sample(&["nudge", "push"], &[]);
        let texts: Vec<String> = (0..3)
            .map(|_| next_hint(&config, &exercise).unwrap().text)
            .collect();
        assert_eq!(texts, ["nudge", "push", "push"]);
        assert_eq!(next_hint(&config, &exercise).unwrap().number, 2);
        let _ = std::fs::remove_dir_all(home);
    }
}
