//! Load generators from outside the lab: `wrk` for HTTP and
//! `redis-benchmark` for Redis, run as child processes and their figures
//! read from what they print.
//!
//! A load generator inside the measured process shares its threads and its
//! allocator with the server, and its figures are then not the ones users
//! see. These are the tools an operator would reach for, so `lab bench api
//! --external` reports what they report. The lab does not install them
//! (they are system packages): when one is missing, [`install_hint`] says
//! how.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lab::services::Platform;
use lab::services::tools::find_program;

use super::Phase;

/// Threads `wrk` runs: the issue's measurement used two, one per core of
/// the reference machine.
pub const WRK_THREADS: usize = 2;

/// Running or reading an external load generator failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadToolError {
    /// The program could not be started.
    #[error("cannot run {program}: {source}")]
    Start {
        /// Which program.
        program: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// It ran but did not succeed.
    #[error("{command} failed ({status}): {output}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },
    /// It printed nothing this module can read.
    #[error("cannot read the figures {program} printed: {output}")]
    Unreadable {
        /// Which program.
        program: &'static str,
        /// What it printed.
        output: String,
    },
}

/// Where `program` is on `search_path`.
pub fn locate(search_path: &[PathBuf], program: &str) -> Option<PathBuf> {
    find_program(search_path, program)
}

/// The command that installs Debian's package `package` (Homebrew's
/// formula of the same name on macOS) on this platform.
pub fn install_hint(package: &str) -> String {
    match Platform::detect() {
        Platform::Debian { root: true } => format!("apt-get install -y {package}"),
        Platform::Debian { root: false } => format!("sudo apt-get install -y {package}"),
        Platform::MacOs => format!("brew install {package}"),
        Platform::Other => {
            format!("install {package} with your system's package manager")
        }
    }
}

/// The Lua script that makes `wrk` ask for `paths` in turn (wrk alone
/// repeats one URL, which would measure one cache entry).
pub fn rotation_script(paths: &[String]) -> String {
    let quoted: Vec<String> = paths.iter().map(|path| format!("{path:?}")).collect();
    format!(
        "-- Written by `lab bench api --external`: every request asks for the\n\
         -- next path in the list.\n\
         local paths = {{{}}}\n\
         local next_path = 0\n\
         request = function()\n  \
           next_path = next_path % #paths + 1\n  \
           return wrk.format(\"GET\", paths[next_path])\n\
         end\n",
        quoted.join(", ")
    )
}

/// What one `wrk` run measured.
#[derive(Debug, Clone)]
pub struct WrkRun {
    /// Its command line.
    pub command: String,
    /// Requests, rate and latency percentiles.
    pub phase: Phase,
    /// Answers that were not 2xx or 3xx, and socket errors.
    pub errors: u64,
}

/// Runs `wrk` against `url` for `duration` on `connections` connections,
/// each request's path from `script`.
pub async fn run_wrk(
    wrk: &Path,
    url: &str,
    connections: usize,
    duration: Duration,
    script: &Path,
) -> Result<WrkRun, LoadToolError> {
    let threads = WRK_THREADS.min(connections.max(1));
    let args = vec![
        format!("-t{threads}"),
        format!("-c{}", connections.max(1)),
        format!("-d{}s", duration.as_secs().max(1)),
        "--latency".to_owned(),
        "-s".to_owned(),
        script.display().to_string(),
        url.to_owned(),
    ];
    let (command, output) = run(wrk, &args).await?;
    let (phase, errors) = parse_wrk(&output).ok_or_else(|| LoadToolError::Unreadable {
        program: "wrk",
        output: output.clone(),
    })?;
    Ok(WrkRun {
        command,
        phase,
        errors,
    })
}

/// What one `redis-benchmark` run measured.
#[derive(Debug, Clone)]
pub struct RedisBenchmarkRun {
    /// Its command line.
    pub command: String,
    /// Requests, rate and latency percentiles.
    pub phase: Phase,
}

/// Runs `redis-benchmark -t get` against the Redis on `port` with
/// `connections` clients and `requests` requests. `--csv` is `-q`'s
/// measurement with every percentile in a form a program can read.
pub async fn run_redis_benchmark(
    program: &Path,
    port: u16,
    connections: usize,
    requests: usize,
) -> Result<RedisBenchmarkRun, LoadToolError> {
    let args = vec![
        "-h".to_owned(),
        "127.0.0.1".to_owned(),
        "-p".to_owned(),
        port.to_string(),
        "-t".to_owned(),
        "get".to_owned(),
        "-c".to_owned(),
        connections.max(1).to_string(),
        "-n".to_owned(),
        requests.max(1).to_string(),
        "--csv".to_owned(),
    ];
    let (command, output) = run(program, &args).await?;
    let phase = parse_redis_csv(&output, requests).ok_or_else(|| LoadToolError::Unreadable {
        program: "redis-benchmark",
        output: output.clone(),
    })?;
    Ok(RedisBenchmarkRun { command, phase })
}

async fn run(program: &Path, args: &[String]) -> Result<(String, String), LoadToolError> {
    let command = std::iter::once(program.display().to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| LoadToolError::Start {
            program: program.display().to_string(),
            source,
        })?;
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        return Err(LoadToolError::Failed {
            command,
            status: output.status.to_string(),
            output: printed,
        });
    }
    Ok((command, printed))
}

/// `2.01ms`, `950.00us`, `1.20s`, `3.00m` as a duration.
fn parse_wrk_time(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The figures of `wrk --latency`'s report: requests, rate, p50 and p99,
/// and how many answers failed.
fn parse_wrk(output: &str) -> Option<(Phase, u64)> {
    let mut requests = None;
    let mut rate = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0u64;
    for line in output.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [count, "requests", "in", ..] => requests = count.parse::<u64>().ok(),
            ["Requests/sec:", value] => rate = value.parse::<f64>().ok(),
            ["50%", time] => p50 = parse_wrk_time(time),
            ["99%", time] => p99 = parse_wrk_time(time),
            ["Non-2xx", "or", "3xx", "responses:", count] => errors += count.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => {
                // "connect 0, read 0, write 0, timeout 0"
                errors += rest
                    .iter()
                    .filter_map(|word| word.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    let (requests, rate) = (requests?, rate?);
    if rate <= 0.0 {
        return None;
    }
    let phase = Phase {
        requests: requests as usize,
        elapsed: Duration::from_secs_f64(requests as f64 / rate),
        p50: p50?,
        p99: p99?,
    };
    Some((phase, errors))
}

/// The `GET` row of `redis-benchmark --csv`: `"GET","45662.10","0.380",
/// "0.104","0.359","0.519","0.751","2.031"` (requests per second, then
/// average, minimum, p50, p95, p99 and maximum latency in milliseconds).
fn parse_redis_csv(output: &str, requests: usize) -> Option<Phase> {
    let row = output
        .lines()
        .find(|line| line.trim_start().starts_with("\"GET\""))?;
    let fields: Vec<f64> = row
        .split(',')
        .skip(1)
        .map(|field| field.trim().trim_matches('"').parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [rate, _average, _minimum, p50, _p95, p99, ..] = fields.as_slice() else {
        return None;
    };
    if *rate <= 0.0 {
        return None;
    }
    let millis = |value: f64| Duration::from_secs_f64(value.max(0.0) / 1e3);
    Some(Phase {
        requests,
        elapsed: Duration::from_secs_f64(requests as f64 / rate),
        p50: millis(*p50),
        p99: millis(*p99),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK_REPORT: &str = "Running 10s test @ http://127.0.0.1:8000
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.15ms    1.02ms  20.33ms   80.00%
    Req/Sec     7.40k   512.33     8.50k    70.00%
  Latency Distribution
     50%  950.00us
     75%    2.50ms
     90%    3.10ms
     99%    5.80ms
  147123 requests in 10.00s, 60.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:  14712.30
Transfer/sec:      6.01MB
";

    #[test]
    fn a_wrk_report_gives_its_rate_percentiles_and_failures() {
        let (phase, errors) = parse_wrk(WRK_REPORT).unwrap();
        assert_eq!(phase.requests, 147_123);
        assert!((phase.rate() - 14_712.3).abs() < 0.5, "{}", phase.rate());
        assert_eq!(phase.p50, Duration::from_micros(950));
        assert_eq!(phase.p99, Duration::from_micros(5800));
        assert_eq!(errors, 15);
    }

    #[test]
    fn a_wrk_report_without_figures_is_unreadable() {
        assert!(parse_wrk("unable to connect to 127.0.0.1:1 Connection refused").is_none());
        let no_latency = WRK_REPORT.replace("99%", "98%");
        assert!(parse_wrk(&no_latency).is_none());
    }

    #[test]
    fn wrk_times_are_read_in_their_units() {
        assert_eq!(parse_wrk_time("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_wrk_time("2.00m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_wrk_time("12"), None);
        assert_eq!(parse_wrk_time("3.0parsecs"), None);
    }

    #[test]
    fn a_redis_benchmark_csv_row_gives_rate_and_percentiles() {
        let output = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\
                      \"GET\",\"40000.00\",\"0.380\",\"0.104\",\"0.359\",\"0.519\",\"0.751\",\"2.031\"\n";
        let phase = parse_redis_csv(output, 200_000).unwrap();
        assert_eq!(phase.requests, 200_000);
        assert!((phase.rate() - 40_000.0).abs() < 0.01);
        assert_eq!(phase.p50, Duration::from_micros(359));
        assert_eq!(phase.p99, Duration::from_micros(751));
        assert!(parse_redis_csv("\"GET\",\"fast\"", 10).is_none());
        assert!(parse_redis_csv("ERR unknown command", 10).is_none());
    }

    #[test]
    fn the_wrk_script_asks_for_every_path_in_turn() {
        let script = rotation_script(&["/customers/a".to_owned(), "/customers/b".to_owned()]);
        assert!(
            script.contains(r#"local paths = {"/customers/a", "/customers/b"}"#),
            "{script}"
        );
        assert!(script.contains("next_path % #paths + 1"), "{script}");
    }
}
