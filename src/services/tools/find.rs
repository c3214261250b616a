//! Finding the programs: the [`Toolbox`], and where each program is looked
//! for (the search path, cargo's install folders), with the checks that a
//! program found is the one we want (executable, the pinned version, Python
//! with `venv`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalog::{CargoCrate, Platform, Tool};
use crate::config::Config;

/// Finds and installs the programs the lab needs.
#[derive(Debug, Clone)]
pub struct Toolbox {
    pub(super) config: Config,
    pub(super) platform: Platform,
}

impl Toolbox {
    /// A toolbox for this machine.
    pub fn new(config: &Config) -> Self {
        Self::with_platform(config, Platform::detect())
    }

    /// A toolbox that believes it runs on `platform`; lets tests see the
    /// advice given elsewhere.
    pub fn with_platform(config: &Config, platform: Platform) -> Self {
        Toolbox {
            config: config.clone(),
            platform,
        }
    }

    /// Where `tool` is installed, if it is.
    pub fn locate(&self, tool: Tool) -> Option<PathBuf> {
        match tool {
            Tool::Secantus | Tool::EvcxrJupyter => self.locate_cargo_installed(tool),
            Tool::Python => find_program(&self.config.search_path, "python3")
                .filter(|python| python_has_venv(python)),
            Tool::CCompiler => ["cc", "gcc", "clang"]
                .into_iter()
                .find_map(|name| find_program(&self.config.search_path, name)),
            _ => find_program(&self.config.search_path, tool.program()),
        }
    }

    /// The version `secantusd-rs --version` reports, if it runs.
    pub fn secantus_version(path: &Path) -> Option<String> {
        program_version(path)
    }

    /// Where `cargo install` puts the embedded server: cargo's own home, so
    /// that every checkout on the machine shares one five-minute build, or
    /// the lab's tools folder when cargo's home is unknown.
    pub(super) fn install_root(&self) -> PathBuf {
        self.config
            .cargo_home
            .clone()
            .unwrap_or_else(|| self.config.tools_dir())
    }

    fn locate_cargo_installed(&self, tool: Tool) -> Option<PathBuf> {
        let krate = tool.cargo_crate()?;
        let mut candidates: Vec<PathBuf> = self
            .config
            .search_path
            .iter()
            .map(|dir| dir.join(krate.program))
            .collect();
        candidates.push(self.install_root().join("bin").join(krate.program));
        candidates.push(self.config.tools_dir().join("bin").join(krate.program));
        candidates
            .into_iter()
            .find(|path| is_executable(path) && krate.built(path))
    }
}

impl CargoCrate {
    /// Whether the program at `path` was built from this crate at this
    /// version: it says so for `--version`, or cargo's record of what it
    /// installed beside it (`ROOT/.crates2.json` for `ROOT/bin/PROGRAM`) does,
    /// for programs without a version flag.
    fn built(&self, path: &Path) -> bool {
        if program_version(path).as_deref() == Some(self.version) {
            return true;
        }
        let Some(root) = path.parent().and_then(Path::parent) else {
            return false;
        };
        std::fs::read_to_string(root.join(".crates2.json"))
            .is_ok_and(|record| record.contains(&format!("\"{} {} (", self.krate, self.version)))
    }
}

/// The version a program prints for `--version` (its second word), if it runs.
fn program_version(path: &Path) -> Option<String> {
    let output = Command::new(path).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .map(str::to_owned)
}

/// Whether `python` can make virtual environments (Debian splits `venv` into
/// its own package).
fn python_has_venv(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import venv, ensurepip"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The first executable called `name` in `search_path`.
pub fn find_program(search_path: &[PathBuf], name: &str) -> Option<PathBuf> {
    search_path
        .iter()
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A toolbox that finds nothing, believing it runs on `platform`.
    pub(in crate::services::tools) fn toolbox_without_programs(platform: Platform) -> Toolbox {
        let home = std::env::temp_dir().join(format!("lab-tools-test-{}", std::process::id()));
        Toolbox::with_platform(&Config::for_home(home, Vec::new()), platform)
    }

    #[test]
    fn nothing_is_found_on_an_empty_search_path() {
        let toolbox = toolbox_without_programs(Platform::Other);
        assert_eq!(toolbox.locate(Tool::RedisServer), None);
        assert_eq!(toolbox.locate(Tool::Cmake), None);
    }

    #[test]
    fn a_program_without_a_version_flag_is_known_by_cargos_install_record() {
        let root = std::env::temp_dir().join(format!("lab-crates2-test-{}", std::process::id()));
        std::fs::create_dir_all(root.join("bin")).unwrap();
        let program = root.join("bin").join("evcxr_jupyter");
        std::fs::write(&program, "#!/bin/sh\nexit 1\n").unwrap();
        let krate = Tool::EvcxrJupyter.cargo_crate().unwrap();
        assert!(!krate.built(&program), "no record: not ours");
        let record = r#"{"installs":{"evcxr_jupyter 0.21.0 (registry+https://github.com/rust-lang/crates.io-index)":{}}}"#;
        std::fs::write(root.join(".crates2.json"), record).unwrap();
        assert!(!krate.built(&program), "another version");
        std::fs::write(
            root.join(".crates2.json"),
            record.replace("0.21.0", "0.22.0"),
        )
        .unwrap();
        assert!(krate.built(&program));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn programs_are_found_on_the_search_path_in_order() {
        let path = [PathBuf::from("/nonexistent"), PathBuf::from("/bin")];
        assert_eq!(find_program(&path, "sh"), Some(PathBuf::from("/bin/sh")));
        assert_eq!(find_program(&path, "no-such-program-anywhere"), None);
        let toolbox = Toolbox::with_platform(
            &Config::for_home("/nonexistent", path.to_vec()),
            Platform::Other,
        );
        assert_eq!(
            toolbox.locate(Tool::RedisServer),
            find_program(&path, "redis-server")
        );
    }
}
