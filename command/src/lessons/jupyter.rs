//! The lab's own Jupyter: a Python virtual environment under `LAB_HOME`
//! with pinned JupyterLab and nbconvert, and the evcxr Rust kernel.
//!
//! Nothing here touches the system Python. The kernel is registered the way
//! evcxr documents (`evcxr_jupyter --install`, into the user's Jupyter data
//! folder), so a Jupyter the student already has finds it too.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{LessonError, kernel_slots};
use lab::config::Config;
use lab::services::tools::run_logged;
use lab::services::{Tool, Toolbox};

/// The Python packages of the lab's Jupyter, pinned to the versions the
/// notebooks are tested with.
pub const PYTHON_PACKAGES: &[&str] = &[
    "jupyterlab==4.6.6",
    "nbconvert==7.17.2",
    "nbclient==0.11.0",
    "jupyter_client==8.10.0",
];

/// The kernel name the notebooks ask for.
pub const KERNEL_NAME: &str = "rust";

/// A ready Jupyter: the virtual environment's programs and the kernel.
#[derive(Debug, Clone)]
pub struct Jupyter {
    venv: PathBuf,
    log: PathBuf,
    kernels: PathBuf,
}

impl Jupyter {
    /// Makes the virtual environment and registers the kernel, installing
    /// what is missing (`evcxr_jupyter` with cargo, about 6 minutes, once;
    /// the Python packages with pip, about a minute, once). `say` hears what
    /// is being done.
    pub fn ensure(config: &Config, say: &dyn Fn(&str)) -> Result<Jupyter, LessonError> {
        let toolbox = Toolbox::new(config);
        let python = toolbox.ensure(Tool::Python, say)?;
        let kernel = toolbox.ensure(Tool::EvcxrJupyter, say)?;
        let kernels = super::kernel_cache::kernel_tmpdir().map_err(|source| LessonError::Io {
            context: "cannot prepare the kernels' build folder".into(),
            source,
        })?;
        let jupyter = Jupyter {
            venv: config.home.join("jupyter"),
            log: config.home.join("jupyter-install.log"),
            kernels,
        };
        let slots = kernel_slots::slots_dir().map_err(|source| LessonError::Io {
            context: "cannot prepare the kernels' lasting build folders".into(),
            source,
        })?;
        jupyter.ensure_venv(&python, say)?;
        jupyter.ensure_kernel(&kernel, &slots, say)?;
        Ok(jupyter)
    }

    /// What kernels started by this Jupyter need in their environment:
    /// `TMPDIR`, the folder they build in
    /// ([`kernel_tmpdir`](super::kernel_cache::kernel_tmpdir)).
    pub fn kernel_env(&self) -> Vec<(String, String)> {
        vec![("TMPDIR".to_owned(), self.kernels.display().to_string())]
    }

    /// The virtual environment's folder.
    pub fn venv(&self) -> &Path {
        &self.venv
    }

    /// A program of the virtual environment (`jupyter`, `python`).
    pub fn program(&self, name: &str) -> PathBuf {
        self.venv.join("bin").join(name)
    }

    /// Runs every cell of `notebook` in a fresh kernel and writes the
    /// executed copy to `output`, stopping a cell after `cell_timeout`.
    /// Cells that fail do not stop the run; their errors are in the copy.
    /// The kernel gets `variables` in its environment (which servers to use).
    pub fn execute(
        &self,
        notebook: &Path,
        output: &Path,
        cell_timeout: Duration,
        variables: &[(&str, String)],
    ) -> Result<(), LessonError> {
        let directory = output.parent().unwrap_or(Path::new("."));
        let name = output
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = Command::new(self.program("jupyter"))
            .arg("nbconvert")
            .args(["--to", "notebook", "--execute", "--allow-errors"])
            .arg(format!("--ExecutePreprocessor.kernel_name={KERNEL_NAME}"))
            .arg(format!(
                "--ExecutePreprocessor.timeout={}",
                cell_timeout.as_secs()
            ))
            .arg("--output-dir")
            .arg(directory)
            .arg("--output")
            .arg(&name)
            .arg(notebook)
            // The kernel starts in the notebook's folder, as in Jupyter Lab,
            // so the notebook's relative `:dep` path means the same thing.
            .current_dir(notebook.parent().unwrap_or(Path::new(".")))
            .envs(self.kernel_env())
            .envs(variables.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| LessonError::Io {
                context: "cannot run jupyter nbconvert".into(),
                source,
            })?;
        if result.status.success() {
            Ok(())
        } else {
            Err(LessonError::Jupyter {
                notebook: notebook.to_owned(),
                stderr: tail(&String::from_utf8_lossy(&result.stderr), 20),
            })
        }
    }

    /// The arguments of `jupyter` that serve Jupyter Lab on `notebooks` at
    /// `port` on 127.0.0.1, opening a browser. The login token is not among
    /// them: give it in the environment as `JUPYTER_TOKEN`.
    pub fn lab_arguments(&self, notebooks: &Path, port: u16) -> Vec<String> {
        let mut arguments = vec![
            "lab".to_owned(),
            format!("--ServerApp.root_dir={}", notebooks.display()),
            format!("--ServerApp.port={port}"),
            "--ServerApp.port_retries=0".to_owned(),
            "--ServerApp.ip=127.0.0.1".to_owned(),
        ];
        if nix::unistd::geteuid().is_root() {
            // Containers and CI machines often run everything as root;
            // Jupyter refuses that unless told it is intended.
            arguments.push("--allow-root".to_owned());
        }
        arguments
    }

    fn ensure_venv(&self, python: &Path, say: &dyn Fn(&str)) -> Result<(), LessonError> {
        if has_packages(&self.venv, PYTHON_PACKAGES) && self.program("jupyter").exists() {
            return Ok(());
        }
        say(&format!(
            "installing Jupyter Lab into {} (pip, about a minute, once)",
            self.venv.display()
        ));
        install_packages(python, &self.venv, PYTHON_PACKAGES, &self.log)
    }

    /// Registers the kernel unless Jupyter already starts it through the
    /// lab's launcher ([`kernel_slots`](super::kernel_slots)) with `kernel`
    /// and `slots`: `evcxr_jupyter --install` writes the kernel's folder of
    /// resources, then the launcher goes into it. (When evcxr_jupyter
    /// itself is upgraded, its first kernel writes its own `kernel.json`
    /// again; kernels then build in temporary folders until the next
    /// `cargo lab up` puts the launcher back.)
    fn ensure_kernel(
        &self,
        kernel: &Path,
        slots: &Path,
        say: &dyn Fn(&str),
    ) -> Result<(), LessonError> {
        let wanted =
            |spec: &RegisteredKernel| kernel_slots::launcher_argv(&spec.resources, kernel, slots);
        if self
            .registered_kernel()
            .is_some_and(|spec| spec.is(&wanted(&spec)))
        {
            return Ok(());
        }
        say("registering the evcxr Rust kernel with Jupyter");
        run_logged(
            &[kernel.display().to_string(), "--install".into()],
            &self.log,
        )?;
        // Jupyter and evcxr_jupyter find the kernels' folder by the same
        // rules unless these say otherwise to one of them.
        let fix = "unset JUPYTER_PATH JUPYTER_DATA_DIR, then run `cargo lab up` again";
        let unlisted = || LessonError::Kernel {
            reason: format!(
                "Jupyter does not list a `{KERNEL_NAME}` kernel after `{} --install`",
                kernel.display()
            ),
            fix: fix.into(),
        };
        let spec = self.registered_kernel().ok_or_else(unlisted)?;
        let argv = wanted(&spec);
        kernel_slots::install(&spec.resources, &argv)?;
        match self.registered_kernel() {
            Some(spec) if spec.is(&argv) => Ok(()),
            Some(spec) => Err(LessonError::Kernel {
                reason: format!(
                    "Jupyter's `{KERNEL_NAME}` kernel still starts with `{}`, not `{}`",
                    spec.argv.join(" "),
                    argv.join(" ")
                ),
                fix: fix.into(),
            }),
            None => Err(unlisted()),
        }
    }

    /// The `rust` kernel as Jupyter sees it.
    fn registered_kernel(&self) -> Option<RegisteredKernel> {
        let jupyter = self.program("jupyter");
        if !jupyter.exists() {
            return None;
        }
        let output = Command::new(jupyter)
            .args(["kernelspec", "list", "--json"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let listing: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
        let kernel = listing.pointer(&format!("/kernelspecs/{KERNEL_NAME}"))?;
        let argv = kernel
            .pointer("/spec/argv")?
            .as_array()?
            .iter()
            .map(|word| word.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()?;
        let resources = PathBuf::from(kernel.get("resource_dir")?.as_str()?);
        Some(RegisteredKernel { argv, resources })
    }
}

/// A kernel registered with Jupyter: its command line and its folder of
/// resources (where `kernel.json` is).
#[derive(Debug)]
struct RegisteredKernel {
    argv: Vec<String>,
    resources: PathBuf,
}

impl RegisteredKernel {
    /// Whether Jupyter starts it with `argv` and the launcher in its
    /// resources is the current one.
    fn is(&self, argv: &[String]) -> bool {
        self.argv == argv && kernel_slots::launcher_is_current(&self.resources)
    }
}

/// Whether the virtual environment `venv` has `packages`, as the marker
/// [`install_packages`] writes says.
pub fn has_packages(venv: &Path, packages: &[&str]) -> bool {
    std::fs::read_to_string(venv.join("lab-packages.txt"))
        .is_ok_and(|installed| installed == packages.join("\n"))
}

/// Makes the virtual environment `venv` with `python` unless it exists,
/// installs `packages` (pinned `name==version` lines) into it with pip, and
/// writes the marker [`has_packages`] reads; what the commands print goes
/// to `log`. The system Python is left alone.
pub fn install_packages(
    python: &Path,
    venv: &Path,
    packages: &[&str],
    log: &Path,
) -> Result<(), LessonError> {
    let venv_python = venv.join("bin").join("python");
    if !venv_python.exists() {
        let make = [python, Path::new("-m"), Path::new("venv"), venv];
        run_logged(&make.map(|part| part.display().to_string()), log)?;
    }
    let pip = [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ];
    let install: Vec<String> = std::iter::once(venv_python.display().to_string())
        .chain(pip.iter().chain(packages).map(|word| word.to_string()))
        .collect();
    run_logged(&install, log)?;
    let marker = venv.join("lab-packages.txt");
    std::fs::write(&marker, packages.join("\n")).map_err(|source| LessonError::Io {
        context: format!("cannot write {}", marker.display()),
        source,
    })
}

/// The last `lines` lines of `text`.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
