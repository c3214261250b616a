//! Child processes: starting a server, knowing whether it still runs, stopping it.
//!
//! Servers have one of two lifetimes. `lab up` starts them *detached*: in a
//! session of their own, so they outlive the `lab` command and a Ctrl-C in the
//! terminal does not reach them. Tests start them *tied* to the test process:
//! on Linux the kernel kills them when the test process dies, even if it dies
//! from a panic or a `kill -9`, so a crashed test run never leaves servers behind.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a started server may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Until someone stops it: what `lab up` uses.
    Detached,
    /// Until the current process ends: what the test harness uses.
    Tied,
}

/// What to run, where its output goes, and how long it lives.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program, as a full path.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Standard output and standard error are appended here.
    pub log_file: PathBuf,
    /// Detached or tied to this process.
    pub lifetime: Lifetime,
    /// Variables added to its environment: where a secret goes, since a
    /// command line is visible to every user in `ps` and an environment only
    /// to the process's owner.
    pub env: Vec<(String, String)>,
}

/// A process we started and still hold a handle to.
#[derive(Debug)]
pub struct ChildProcess {
    child: Child,
    program: String,
}

impl ChildProcess {
    /// Starts the process described by `launch`.
    pub fn spawn(launch: &Launch) -> std::io::Result<Self> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&launch.log_file)?;
        let mut command = Command::new(&launch.program);
        command
            .args(&launch.args)
            .envs(launch.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = match launch.lifetime {
            Lifetime::Detached => {
                // SAFETY: `setsid` is async-signal-safe and touches no memory of
                // the parent, which is all `pre_exec` asks of its closure.
                unsafe {
                    command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(Into::into));
                }
                command.spawn()?
            }
            Lifetime::Tied => spawn_tied(command)?,
        };
        Ok(ChildProcess {
            child,
            program: program_name(&launch.program),
        })
    }

    /// The operating system's id for the process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(description)` once the process has exited, `None` while it runs.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(error) => Some(error.to_string()),
        }
    }

    /// Asks the process to stop (SIGTERM), waits up to `grace`, then kills it.
    pub fn stop(mut self, grace: Duration) {
        let pid = self.pid();
        terminate(pid, &self.program, grace);
        // Reap it so it does not linger as a zombie of ours.
        let _ = self.child.wait();
    }

    /// Kills the process at once (SIGKILL) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Lets the process run on without us; used once a detached server is up.
    pub fn release(self) -> u32 {
        self.child.id()
    }
}

/// Asks `pid` to stop (SIGTERM, as `lab down` sends) and returns at once;
/// the caller waits for it, typically through the child handle it holds.
/// Returns whether the signal was delivered.
pub fn ask_to_stop(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    kill(Pid::from_raw(raw), Signal::SIGTERM).is_ok()
}

/// Sends SIGTERM to `pid`, waits up to `grace` for it to exit, then sends
/// SIGKILL. Returns `true` if the process had to be killed.
///
/// `program` guards against a recycled pid: a pid whose command line does not
/// name `program` is left alone.
pub fn terminate(pid: u32, program: &str, grace: Duration) -> bool {
    if !is_running(pid, program) {
        return false;
    }
    ask_to_stop(pid);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !is_running(pid, program) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
    true
}

/// Whether `pid` is a live process running `program`.
pub fn is_running(pid: u32, program: &str) -> bool {
    is_alive(pid) && proc_matches(pid, program)
}

/// Whether a process `pid` exists and this process may signal it (signal 0,
/// which checks and sends nothing). A zombie still counts, and so does an
/// unrelated program that was given a recycled pid: use [`is_running`] to
/// know that the process is the program you started. Pid 0 (which would
/// name our own process group) is not a process.
pub fn is_alive(pid: u32) -> bool {
    match i32::try_from(pid) {
        Ok(raw) if raw > 0 => kill(Pid::from_raw(raw), None).is_ok(),
        _ => false,
    }
}

/// Removes the folders under `root` whose names start `p{PID}-` (as in
/// `p4242-0`) when process PID no longer runs: folders a process claims for
/// its own files, so that a later process clears what an ended one left.
/// Other entries are left alone; a missing `root`, or a folder that cannot
/// be removed, is skipped, and the next call tries again.
pub fn remove_dirs_of_ended(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let owner = owner_pid(&entry.file_name().to_string_lossy());
        if owner.is_some_and(|pid| !is_alive(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The PID in a folder name `p{PID}-…`, if it is one.
fn owner_pid(name: &str) -> Option<u32> {
    name.strip_prefix('p')?.split('-').next()?.parse().ok()
}

/// On Linux, `/proc` tells a zombie from a live process and shows the
/// command line, so a pid reused by an unrelated program is not mistaken for
/// ours. Elsewhere the signal check above has to do.
///
/// A process that is just starting its program has a moment in which
/// `spawn` has returned but the kernel has not yet given it its command
/// line (it reads empty); its executable is already the new one, so then
/// that is what is compared.
#[cfg(target_os = "linux")]
fn proc_matches(pid: u32, program: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state letter follows the command name, which is wrapped in parentheses.
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.trim().chars().next());
    if matches!(state, Some('Z') | Some('X') | None) {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if cmdline.is_empty() {
        return std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| program_name(&exe).contains(program));
    }
    String::from_utf8_lossy(&cmdline).contains(program)
}

#[cfg(not(target_os = "linux"))]
fn proc_matches(_pid: u32, _program: &str) -> bool {
    true
}

/// The file name of a program path, used to recognise its processes.
pub fn program_name(program: &Path) -> String {
    program
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A port on 127.0.0.1 that was free a moment ago, and that this process
/// has not handed out before.
///
/// Another process can take it before our server binds it; the launcher
/// notices the server's early exit and tries again with a new port. Never
/// the same port twice: a server stopped on purpose (a test's outage) must
/// not come back, to the clients that knew it, as another server started
/// later on its freed port.
pub fn free_port() -> std::io::Result<u16> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for _ in 0..64 {
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        if given.insert(port) {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no port that this process has not used already",
    ))
}

/// Whether nothing listens on `port` of 127.0.0.1 (and we may bind it).
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Whether something accepts connections on `port` of 127.0.0.1.
pub async fn port_accepts(port: u16) -> bool {
    tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .is_ok()
}

/// Whether the socket listening on `port` is not held by process `pid`,
/// as far as Linux's `/proc` tells: `false` when it is, and when `/proc`
/// cannot say (another system, a socket not listed, unreadable folders).
///
/// Two servers started at once can be given the same free port: the one
/// that loses the race exits with "address in use", but until it has, the
/// winner answers on that port for both. A launcher that asks this of its
/// own child before trusting an answer never hands out another's server.
pub fn port_held_by_other(port: u16, pid: u32) -> bool {
    let listening: Vec<String> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|text| listening_sockets(&text, port))
        .collect();
    if listening.is_empty() {
        return false;
    }
    let Ok(descriptors) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    let ours = descriptors.filter_map(Result::ok).any(|entry| {
        std::fs::read_link(entry.path()).is_ok_and(|target| {
            let target = target.to_string_lossy();
            listening
                .iter()
                .any(|inode| target == format!("socket:[{inode}]"))
        })
    });
    !ours
}

/// The inodes of the sockets listening on `port` in a `/proc/net/tcp`
/// table (`sl local_address rem_address st ... inode`, with the address
/// as `HEXIP:HEXPORT` and state `0A` for listening).
fn listening_sockets(table: &str, port: u16) -> Vec<String> {
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            (local.ends_with(&wanted) && *state == "0A").then(|| (*inode).to_owned())
        })
        .collect()
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Starts `command` from a thread that lives as long as the process.
///
/// Linux's "parent death signal" fires when the *thread* that started a
/// child exits, not the whole process. Test threads and Tokio's blocking
/// threads come and go, so tied children are all started from this one
/// long-lived thread, and die exactly when the process does.
fn spawn_tied(mut command: Command) -> std::io::Result<Child> {
    static SPAWNER: OnceLock<std::sync::Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    #[cfg(target_os = "linux")]
    // SAFETY: `prctl(PR_SET_PDEATHSIG)` is async-signal-safe and only changes
    // the child's own settings.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("lab-spawner".into())
            .spawn(move || {
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the operating system refused to start a thread");
        std::sync::Mutex::new(sender)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?;
    answer
        .recv()
        .map_err(|_| std::io::Error::other("the spawner thread has stopped"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_socket_is_found_by_its_port_and_state() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0\n\
   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0\n\
   2: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0\n";
        assert_eq!(listening_sockets(table, 8080), ["4242"]);
        assert!(listening_sockets(table, 80).is_empty());
    }

    #[test]
    fn a_port_this_process_listens_on_is_not_held_by_another() {
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!port_held_by_other(port, std::process::id()));
        if Path::new("/proc/net/tcp").exists() && Path::new("/proc/1/fd").read_dir().is_ok() {
            assert!(
                port_held_by_other(port, 1),
                "pid 1 does not hold this test's socket"
            );
        }
        drop(listener);
        assert!(!port_held_by_other(port, 1), "nobody listens any more");
    }

    #[test]
    fn this_process_is_alive_and_pids_no_process_can_have_are_not() {
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(0), "pid 0 names a process group, not a process");
        assert!(!is_alive(i32::MAX as u32));
        assert!(!is_alive(u32::MAX));
    }

    #[test]
    fn folders_of_ended_processes_are_removed_and_others_kept() {
        let root = std::env::temp_dir().join(format!("lab-ended-dirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // No process has the largest pid there can be.
        let ended = root.join(format!("p{}-0", i32::MAX));
        let running = root.join(format!("p{}-3", std::process::id()));
        let others = ["shared", "pnot-a-pid-0", "p-1"].map(|name| root.join(name));
        for dir in others.iter().chain([&ended, &running]) {
            std::fs::create_dir_all(dir).unwrap();
        }
        remove_dirs_of_ended(&root);
        assert!(!ended.exists());
        assert!(running.exists(), "this process still runs");
        assert!(
            others.iter().all(|dir| dir.exists()),
            "not named for a process"
        );
        let _ = std::fs::remove_dir_all(root);
        remove_dirs_of_ended(&std::env::temp_dir().join("lab-no-such-folder"));
    }

    #[test]
    fn a_free_port_can_be_bound_and_then_reports_as_taken() {
        let port = free_port().unwrap();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert!(!port_is_free(port));
        drop(listener);
        assert!(port_is_free(port));
    }

    #[test]
    fn a_tied_child_runs_until_stopped() {
        let dir = std::env::temp_dir();
        let launch = Launch {
            program: PathBuf::from("/bin/sleep"),
            args: vec!["30".into()],
            log_file: dir.join(format!("lab-process-test-{}.log", std::process::id())),
            lifetime: Lifetime::Tied,
            env: Vec::new(),
        };
        let mut child = ChildProcess::spawn(&launch).unwrap();
        let pid = child.pid();
        assert!(child.exit_status().is_none());
        assert!(is_running(pid, "sleep"));
        assert!(
            !is_running(pid, "redis-server"),
            "the program name is checked"
        );
        child.stop(Duration::from_secs(2));
        assert!(!is_running(pid, "sleep"));
        let _ = std::fs::remove_file(&launch.log_file);
    }

    #[test]
    fn the_tail_of_a_log_skips_blank_lines() {
        let path = std::env::temp_dir().join(format!("lab-tail-{}.log", std::process::id()));
        std::fs::write(&path, "one\n\ntwo\nthree\n").unwrap();
        assert_eq!(log_tail(&path, 2), "two | three");
        std::fs::remove_file(&path).unwrap();
    }
}
