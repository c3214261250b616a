//! The programs the lab runs but does not build into itself: finding them,
//! and installing the missing ones where that can be done without asking.
//!
//! Redis comes from the operating system's packages. The embedded MongoDB
//! server, `secantusd-rs`, comes from crates.io and is built once with
//! `cargo install`. It is deliberately a separate program and never a library
//! dependency of ours: its licence (GPL-2.0-only) and its minimum Rust
//! version (newer than ours) both keep it at arm's length, and a separate
//! process is also what a real MongoDB deployment looks like.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;

/// The crate that provides the embedded MongoDB server.
pub const SECANTUS_CRATE: &str = "secantus-mdb";
/// The exact version the lab is tested against.
pub const SECANTUS_VERSION: &str = "0.5.3-beta.196";
/// The program that crate installs.
pub const SECANTUS_PROGRAM: &str = "secantusd-rs";
/// The crate of the Rust kernel for Jupyter that the notebooks run in.
pub const EVCXR_CRATE: &str = "evcxr_jupyter";
/// The kernel version the notebooks and their stored outputs are tested with;
/// the notebook test in `cargo test` uses the `evcxr` crate of the same version.
pub const EVCXR_VERSION: &str = "0.22.0";

/// A program that `cargo install` builds from a pinned crate.
struct CargoCrate {
    krate: &'static str,
    version: &'static str,
    program: &'static str,
    /// Passed when the crate declares a newer minimum Rust than ours but
    /// builds with it.
    ignore_rust_version: bool,
}

/// A program the lab needs from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The Redis server.
    RedisServer,
    /// CMake, which the embedded MongoDB server's storage engine builds with.
    Cmake,
    /// A C compiler, for the same build.
    CCompiler,
    /// The embedded MongoDB-compatible server.
    Secantus,
    /// The evcxr Rust kernel for Jupyter.
    EvcxrJupyter,
    /// Python 3 with its `venv` module, for the lab's private Jupyter.
    Python,
}

impl Tool {
    /// What a person would call it.
    pub fn label(self) -> &'static str {
        match self {
            Tool::RedisServer => "redis-server",
            Tool::Cmake => "cmake",
            Tool::CCompiler => "a C compiler (cc)",
            Tool::Secantus => "secantusd-rs (embedded MongoDB server)",
            Tool::EvcxrJupyter => "evcxr_jupyter (the Rust kernel for Jupyter)",
            Tool::Python => "python3 with venv",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Tool::RedisServer => "redis-server",
            Tool::Cmake => "cmake",
            Tool::CCompiler => "cc",
            Tool::Secantus => SECANTUS_PROGRAM,
            Tool::EvcxrJupyter => EVCXR_CRATE,
            Tool::Python => "python3",
        }
    }

    /// The pinned crate that `cargo install` builds it from, for the tools
    /// that are not system packages.
    fn cargo_crate(self) -> Option<CargoCrate> {
        match self {
            Tool::Secantus => Some(CargoCrate {
                krate: SECANTUS_CRATE,
                version: SECANTUS_VERSION,
                program: SECANTUS_PROGRAM,
                ignore_rust_version: true,
            }),
            Tool::EvcxrJupyter => Some(CargoCrate {
                krate: EVCXR_CRATE,
                version: EVCXR_VERSION,
                program: EVCXR_CRATE,
                ignore_rust_version: false,
            }),
            _ => None,
        }
    }

    /// The Debian package and the Homebrew formula that provide it.
    fn packages(self) -> (&'static str, &'static str) {
        match self {
            Tool::RedisServer => ("redis-server", "redis"),
            Tool::Cmake => ("cmake", "cmake"),
            Tool::CCompiler => ("build-essential", "llvm"),
            Tool::Python => ("python3-venv", "python"),
            Tool::Secantus | Tool::EvcxrJupyter => ("", ""),
        }
    }
}

/// The kind of machine, as far as installing packages goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Debian, Ubuntu or a derivative; `root` says whether we may run apt-get.
    Debian {
        /// Whether the lab runs as root.
        root: bool,
    },
    /// macOS, where Homebrew is the usual way.
    MacOs,
    /// Anything else: we only say what is needed.
    Other,
}

impl Platform {
    /// Looks at the running system.
    pub fn detect() -> Self {
        if cfg!(target_os = "macos") {
            return Platform::MacOs;
        }
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let debian_like = release.lines().any(|line| {
            (line.starts_with("ID=") || line.starts_with("ID_LIKE="))
                && (line.contains("debian") || line.contains("ubuntu"))
        });
        if debian_like {
            Platform::Debian {
                root: nix::unistd::geteuid().is_root(),
            }
        } else {
            Platform::Other
        }
    }
}

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

/// Finds and installs the programs the lab needs.
#[derive(Debug, Clone)]
pub struct Toolbox {
    config: Config,
    platform: Platform,
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

    /// The version `secantusd-rs --version` reports, if it runs.
    pub fn secantus_version(path: &Path) -> Option<String> {
        program_version(path)
    }

    /// Where `cargo install` puts the embedded server: cargo's own home, so
    /// that every checkout on the machine shares one five-minute build, or
    /// the lab's tools folder when cargo's home is unknown.
    fn install_root(&self) -> PathBuf {
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

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toolbox_without_programs(platform: Platform) -> Toolbox {
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
