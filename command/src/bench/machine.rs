//! What a benchmark ran on, printed beside figures measured on other
//! machines (a published one is only comparable with the hardware said).

/// The CPU a benchmark ran on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The CPU's model name, as `/proc/cpuinfo` gives it.
    pub cpu: String,
    /// The cores this process may use.
    pub cores: usize,
}

impl Machine {
    /// This machine: the model from `/proc/cpuinfo` ("unknown CPU" where
    /// there is none, as on macOS), the cores from the scheduler.
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpu: model_name(&cpuinfo).unwrap_or_else(|| "unknown CPU".to_owned()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {} core(s)", self.cpu, self.cores)
    }
}

/// The first `model name` of a `/proc/cpuinfo`.
fn model_name(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == "model name").then(|| value.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_name_is_the_first_processors() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\n\
                       processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(model_name(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(model_name("processor\t: 0\n"), None);
    }
}
