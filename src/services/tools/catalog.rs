//! What the lab needs from outside: the programs, the crates and packages
//! that provide them, the versions it is tested with, and the kind of
//! machine they are installed on.

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
pub(super) struct CargoCrate {
    pub(super) krate: &'static str,
    pub(super) version: &'static str,
    pub(super) program: &'static str,
    /// Passed when the crate declares a newer minimum Rust than ours but
    /// builds with it.
    pub(super) ignore_rust_version: bool,
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

    pub(super) fn program(self) -> &'static str {
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
    pub(super) fn cargo_crate(self) -> Option<CargoCrate> {
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
    pub(super) fn packages(self) -> (&'static str, &'static str) {
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
