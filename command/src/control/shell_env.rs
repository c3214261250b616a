//! `lab env`: the running lab's variables as shell `export` lines, for
//! `eval "$(cargo lab env)"`.

use super::error::LabError;
use super::secrets;
use super::state::LabState;
use lab::config::Config;
use lab::running::LocateError;

/// `REDIS_URL`, `MONGODB_URI`, `MONGODB_DB` and `LAB_API_KEY` of the running
/// lab, each as an `export` line quoted for the shell.
pub fn exports(config: &Config) -> Result<Vec<String>, LabError> {
    let state = LabState::load(config)?.ok_or(LabError::Locate(LocateError::NotRunning {
        variable: "MONGODB_URI",
    }))?;
    let key = format!("LAB_API_KEY={}", secrets::api_key(config)?.expose());
    Ok(state
        .env_lines()
        .into_iter()
        .chain([key])
        .map(|line| export(&line))
        .collect())
}

/// `NAME=value` as `export NAME='value'`. Quoted because URLs may contain
/// `&` or `?`; a `'` in the value is closed, escaped and reopened.
fn export(line: &str) -> String {
    let (name, value) = line.split_once('=').unwrap_or((line, ""));
    format!("export {name}='{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::export;

    #[test]
    fn values_are_quoted_for_the_shell() {
        assert_eq!(
            export("MONGODB_URI=mongodb://u:p@h:1/?a=1&b=2"),
            "export MONGODB_URI='mongodb://u:p@h:1/?a=1&b=2'"
        );
        assert_eq!(export("KEY=it's"), r"export KEY='it'\''s'");
        assert_eq!(export("EMPTY"), "export EMPTY=''");
    }
}
