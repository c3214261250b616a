//! Installing the programs that are missing, where that can be done without
//! asking: `apt-get` as root on Debian, `cargo install` of a pinned crate,
//! one install at a time under a file lock, each step's output in a log.
//! Anywhere else, the exact command a person should run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::catalog::{
    CargoCrate, EVCXR_CRATE, EVCXR_VERSION, Platform, SECANTUS_PROGRAM, SECANTUS_VERSION, Tool,
};
use super::find::{Toolbox, find_program, is_executable};

/// A program could not be found or installed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// Missing, and this platform needs a person to install it.
    #[error("{tool} is not installed; install it with: {fix}")]
    Missing {
        /// What is missing.
        tool: &'static str,
        /// The command that installs it.
        fix: String,
    },
    /// An install command ran and failed.
    #[error("`{command}` failed ({status}); see {log}")]
    InstallFailed {
        /// The command line that failed.
        command: String,
        /// How it ended.
        status: String,
        /// Where its output went.
        log: String,
    },
    /// The install lock or log file could not be used.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Toolbox {
    /// Whether [`Toolbox::ensure`] installs `tool` by itself here.
    pub fn installs_itself(&self, tool: Tool) -> bool {
        tool.cargo_crate().is_some() || self.platform == (Platform::Debian { root: true })
    }

    /// The command that installs `tool` on this platform.
    pub fn install_command(&self, tool: Tool) -> String {
        if let Some(krate) = tool.cargo_crate() {
            return self.cargo_install_command(&krate).join(" ");
        }
        let (debian, brew) = tool.packages();
        match self.platform {
            Platform::Debian { root: true } => format!("apt-get install -y {debian}"),
            Platform::Debian { root: false } => format!("sudo apt-get install -y {debian}"),
            Platform::MacOs => format!("brew install {brew}"),
            Platform::Other => format!(
                "install {} with your system's package manager (Debian's package is `{debian}`)",
                tool.label()
            ),
        }
    }

    /// The path of `tool`, installing it first when it is missing and this
    /// platform allows it (apt-get as root on Debian, `cargo install` for the
    /// embedded MongoDB server). `say` hears what is being done.
    pub fn ensure(&self, tool: Tool, say: &dyn Fn(&str)) -> Result<PathBuf, ToolError> {
        if let Some(path) = self.locate(tool) {
            return Ok(path);
        }
        // Parallel test binaries may all find the same program missing; the
        // lock makes one install it while the others wait and then find it.
        let _lock = self.install_lock()?;
        self.ensure_locked(tool, say)
    }

    /// [`Toolbox::ensure`] once the install lock is held. It calls itself for
    /// the embedded server's build tools; taking the lock again there would
    /// wait forever on ourselves.
    fn ensure_locked(&self, tool: Tool, say: &dyn Fn(&str)) -> Result<PathBuf, ToolError> {
        if let Some(path) = self.locate(tool) {
            return Ok(path);
        }
        match tool {
            Tool::Secantus => {
                self.ensure_locked(Tool::Cmake, say)?;
                self.ensure_locked(Tool::CCompiler, say)?;
                say(&format!(
                    "installing {SECANTUS_PROGRAM} {SECANTUS_VERSION} with cargo; this builds a storage engine and takes about 5 minutes, once"
                ));
                let krate = tool.cargo_crate().expect("the embedded server is a crate");
                self.run_install(&self.cargo_install_command(&krate), "install-secantus.log")?;
            }
            Tool::EvcxrJupyter => {
                say(&format!(
                    "installing {EVCXR_CRATE} {EVCXR_VERSION} with cargo; this takes about 6 minutes, once"
                ));
                let krate = tool.cargo_crate().expect("the kernel is a crate");
                self.run_install(&self.cargo_install_command(&krate), "install-evcxr.log")?;
            }
            _ => {
                if self.platform != (Platform::Debian { root: true }) {
                    return Err(ToolError::Missing {
                        tool: tool.label(),
                        fix: self.install_command(tool),
                    });
                }
                say(&format!("installing {} with apt-get", tool.label()));
                let update = ["apt-get", "update", "-qq"].map(String::from);
                self.run_install(&update, "install-apt.log")?;
                let (package, _) = tool.packages();
                let install = ["apt-get", "install", "-y", "-qq", package].map(String::from);
                self.run_install(&install, "install-apt.log")?;
            }
        }
        self.locate(tool).ok_or_else(|| ToolError::Missing {
            tool: tool.label(),
            fix: self.install_command(tool),
        })
    }

    fn cargo_install_command(&self, krate: &CargoCrate) -> Vec<String> {
        let cargo = find_program(&self.config.search_path, "cargo")
            .or_else(|| {
                let path = self.config.cargo_home.as_ref()?.join("bin").join("cargo");
                is_executable(&path).then_some(path)
            })
            .map(|path| path.display().to_string())
            .unwrap_or_else(|| "cargo".to_owned());
        let mut command = vec![
            cargo,
            "install".into(),
            krate.krate.into(),
            "--version".into(),
            format!("={}", krate.version),
            "--locked".into(),
            // We only install when no matching binary was found; a stale
            // record in cargo's metadata must not make it skip the build.
            "--force".into(),
            "--root".into(),
            self.install_root().display().to_string(),
        ];
        if krate.ignore_rust_version {
            command.push("--ignore-rust-version".into());
        }
        command
    }

    fn install_lock(&self) -> Result<File, ToolError> {
        let path = self.config.home.join("install.lock");
        let io = |source| ToolError::Io {
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.config.home).map_err(io)?;
        let file = File::create(&path).map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    fn run_install(&self, command: &[String], log_name: &str) -> Result<(), ToolError> {
        run_logged(command, &self.config.home.join(log_name))
    }
}

/// Runs an install step, `command[0]` with the rest as arguments, appending
/// its output to `log_path`; a failure names the command and the log.
pub fn run_logged(command: &[String], log_path: &Path) -> Result<(), ToolError> {
    let io = |source| ToolError::Io {
        path: log_path.display().to_string(),
        source,
    };
    if let Some(folder) = log_path.parent() {
        std::fs::create_dir_all(folder).map_err(io)?;
    }
    let log = File::options()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(io)?;
    let status = Command::new(&command[0])
        .args(&command[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(io)?)
        .stderr(log)
        .status()
        .map_err(io)?;
    if status.success() {
        Ok(())
    } else {
        Err(ToolError::InstallFailed {
            command: command.join(" "),
            status: status.to_string(),
            log: log_path.display().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::find::tests::toolbox_without_programs;
    use super::*;

    #[test]
    fn the_fix_for_a_missing_redis_names_the_platforms_package() {
        let debian = toolbox_without_programs(Platform::Debian { root: false });
        assert_eq!(
            debian.install_command(Tool::RedisServer),
            "sudo apt-get install -y redis-server"
        );
        let mac = toolbox_without_programs(Platform::MacOs);
        assert_eq!(mac.install_command(Tool::RedisServer), "brew install redis");
    }

    #[test]
    fn a_missing_program_that_cannot_be_installed_here_says_how() {
        let toolbox = toolbox_without_programs(Platform::MacOs);
        let error = toolbox.ensure(Tool::RedisServer, &|_| {}).unwrap_err();
        assert_eq!(
            error.to_string(),
            "redis-server is not installed; install it with: brew install redis"
        );
    }

    #[test]
    fn a_missing_build_tool_of_the_embedded_server_is_reported_not_waited_on() {
        // Regression: ensuring the server took the install lock and then
        // ensuring cmake took it again, which blocked forever.
        let toolbox = toolbox_without_programs(Platform::MacOs);
        let error = toolbox.ensure(Tool::Secantus, &|_| {}).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cmake is not installed; install it with: brew install cmake"
        );
    }

    #[test]
    fn the_embedded_server_is_installed_with_the_pinned_version() {
        let toolbox = toolbox_without_programs(Platform::Other);
        let command = toolbox.install_command(Tool::Secantus);
        assert!(command.contains("install secantus-mdb --version =0.5.3-beta.196"));
        assert!(command.contains("--locked --force --root"));
        assert!(command.ends_with("--ignore-rust-version"));
    }

    #[test]
    fn the_kernel_is_installed_with_the_version_the_notebooks_are_tested_with() {
        let toolbox = toolbox_without_programs(Platform::Other);
        let command = toolbox.install_command(Tool::EvcxrJupyter);
        assert!(
            command.contains("install evcxr_jupyter --version =0.22.0 --locked --force --root")
        );
        assert!(!command.contains("--ignore-rust-version"));
        assert!(toolbox.installs_itself(Tool::EvcxrJupyter));
        assert!(!toolbox.installs_itself(Tool::Python));
    }

    #[test]
    fn install_steps_log_into_a_folder_made_for_them_and_failures_name_the_log() {
        let folder = std::env::temp_dir().join(format!("lab-run-logged-{}", std::process::id()));
        let log = folder.join("not-yet").join("install.log");
        run_logged(&["true".to_owned()], &log).unwrap();
        assert!(log.is_file());
        let error = run_logged(&["false".to_owned()], &log)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("`false` failed"), "{error}");
        assert!(error.contains("install.log"), "{error}");
        std::fs::remove_dir_all(&folder).unwrap();
    }
}
