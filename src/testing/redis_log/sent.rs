//! What a recording found: the commands the server ran, in order, with
//! where each ran, and the round trips they took.

/// Where a command ran, as MONITOR reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Sent by a client on its own.
    Client,
    /// Queued between `MULTI` and `EXEC`, run when `EXEC` ran.
    Transaction,
    /// Run by a Lua script (`EVAL`, `EVALSHA`, `FCALL`).
    Script,
}

/// One command the server executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisCommand {
    /// The command's name, in upper case (`SET`, `LMOVE`).
    pub name: String,
    /// Its arguments, as text (bytes that are not UTF-8 are replaced).
    pub args: Vec<String>,
    /// Where it ran.
    pub context: Context,
}

impl RedisCommand {
    /// Whether one of the arguments is `option`, compared without case
    /// (`EX`, `NX`, `REV`, `WITHSCORES`).
    pub fn has_option(&self, option: &str) -> bool {
        self.args.iter().any(|arg| arg.eq_ignore_ascii_case(option))
    }

    /// Whether it calls a Lua script or function: `EVAL`, `EVALSHA`,
    /// `FCALL` or their read-only forms.
    pub fn is_script_call(&self) -> bool {
        matches!(
            self.name.as_str(),
            "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO"
        )
    }

    /// Whether it only wraps other commands: a transaction's `MULTI`,
    /// `EXEC` or `DISCARD`, or a script call ([`Self::is_script_call`]).
    fn is_wrapper(&self) -> bool {
        matches!(self.name.as_str(), "MULTI" | "EXEC" | "DISCARD") || self.is_script_call()
    }

    /// Whether it prepares a transaction or a script without touching data:
    /// `WATCH`, `UNWATCH`, or `SCRIPT` (`SCRIPT LOAD` after a `NOSCRIPT`).
    fn is_preparation(&self) -> bool {
        matches!(self.name.as_str(), "WATCH" | "UNWATCH" | "SCRIPT")
    }

    /// The milliseconds a stream read may wait: the `BLOCK` of an `XREAD`
    /// or `XREADGROUP` (`None` for another command, or a read that does
    /// not block).
    pub fn block_millis(&self) -> Option<u64> {
        if self.name != "XREAD" && self.name != "XREADGROUP" {
            return None;
        }
        let at = self
            .args
            .iter()
            .take_while(|arg| !arg.eq_ignore_ascii_case("STREAMS"))
            .position(|arg| arg.eq_ignore_ascii_case("BLOCK"))?;
        self.args.get(at + 1)?.parse().ok()
    }

    /// Whether it takes one item from the list `key` and nothing else: a
    /// pop naming `key` first (`LPOP`, `RPOP`, `BLPOP`, `BRPOP`), or
    /// `LMPOP` (`BLMPOP`) of that one key without a `COUNT` above 1.
    pub fn pops_one_from(&self, key: &str) -> bool {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let one_of_one_list = |rest: &[&str]| match rest {
            ["1", first, _] => *first == key,
            ["1", first, _, count, "1"] => *first == key && count.eq_ignore_ascii_case("COUNT"),
            _ => false,
        };
        match self.name.as_str() {
            "LMPOP" => one_of_one_list(&args),
            "BLMPOP" => args
                .split_first()
                .is_some_and(|(_, rest)| one_of_one_list(rest)),
            "LPOP" | "RPOP" | "BLPOP" | "BRPOP" => args.first() == Some(&key),
            _ => false,
        }
    }

    /// The command as `redis-cli` would show it, arguments cut short.
    pub fn display(&self) -> String {
        let mut text = self.name.clone();
        for arg in &self.args {
            text.push(' ');
            if arg.chars().count() > 24 {
                text.extend(arg.chars().take(24));
                text.push('…');
            } else {
                text.push_str(arg);
            }
        }
        text
    }
}

/// The commands sent between [`TestEnv::record_redis`](crate::testing::TestEnv::record_redis)
/// and [`RedisRecording::finish`](super::RedisRecording::finish), harness
/// commands left out.
#[derive(Debug, Clone, Default)]
pub struct RedisLog {
    /// The commands, in the order the server ran them.
    pub commands: Vec<RedisCommand>,
    pub(super) round_trips: Option<u64>,
}

impl RedisLog {
    /// The names of the commands, in order (`["SET", "EXPIRE"]`).
    pub fn names(&self) -> Vec<&str> {
        self.commands.iter().map(|c| c.name.as_str()).collect()
    }

    /// How many times `name` ran.
    pub fn count(&self, name: &str) -> usize {
        self.commands
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Whether `name` ran at all.
    pub fn used(&self, name: &str) -> bool {
        self.count(name) > 0
    }

    /// Whether any of `names` ran.
    pub fn used_any(&self, names: &[&str]) -> bool {
        names.iter().any(|name| self.used(name))
    }

    /// The first run of `name`, if any.
    pub fn first(&self, name: &str) -> Option<&RedisCommand> {
        self.commands
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Whether `commands`, taken from this log, ran together: none sent on
    /// its own, all inside one transaction or all run by scripts, and at
    /// most one transaction in the whole log.
    pub fn ran_together(&self, commands: &[&RedisCommand]) -> bool {
        commands.first().is_some_and(|first| {
            commands
                .iter()
                .all(|c| c.context != Context::Client && c.context == first.context)
        }) && self.count("EXEC") <= 1
    }

    /// The commands that can wait on the server for a list to fill:
    /// `BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH` and `BLMPOP`.
    pub fn blocking_pops(&self) -> Vec<&RedisCommand> {
        self.commands
            .iter()
            .filter(|c| {
                matches!(
                    c.name.as_str(),
                    "BLPOP" | "BRPOP" | "BLMOVE" | "BRPOPLPUSH" | "BLMPOP"
                )
            })
            .collect()
    }

    /// The failure message for a claim on an empty queue that did not
    /// answer within `seconds`, judged from what it sent: a blocking pop
    /// (which waits until a ticket comes), the same question again and
    /// again (polling), or neither (then the machine was probably too busy,
    /// and grading again is the answer). `pop` names the command that
    /// answers nil at once (`RPOP`, `LMOVE`).
    pub fn empty_queue_stall(&self, seconds: u64, pop: &str) -> String {
        let listing = self.listing();
        if !self.blocking_pops().is_empty() {
            format!(
                "a claim on an empty queue did not answer within {seconds} seconds: claim sent \
                 {listing}, and a blocking pop with timeout 0 (or more than a moment) blocks \
                 until a ticket comes. claim must give `None` when the queue is empty ({pop} \
                 answers nil at once): a worker that blocks never learns the queue is empty, \
                 and its connection can send nothing else meanwhile"
            )
        } else if self.data_commands().len() > 1 {
            format!(
                "a claim on an empty queue did not answer within {seconds} seconds: claim sent \
                 {listing}, asking again and again until a ticket comes. claim must give `None` \
                 when the queue is empty ({pop} answers nil at once), and leave to its caller \
                 when to ask again"
            )
        } else {
            format!(
                "a claim on an empty queue did not answer within {seconds} seconds, and sent no \
                 blocking command ({listing}): Redis or the machine was probably overloaded; \
                 grade again"
            )
        }
    }

    /// The commands that touch data: everything but the transaction and
    /// script wrappers (`MULTI`, `EXEC`, `EVAL`, `WATCH`, ...).
    pub fn data_commands(&self) -> Vec<&RedisCommand> {
        self.commands
            .iter()
            .filter(|c| !c.is_wrapper() && !c.is_preparation())
            .collect()
    }

    /// The commands that are not among `allowed` (transaction and script
    /// wrappers excepted), for "use only these" checks.
    pub fn others_than(&self, allowed: &[&str]) -> Vec<&RedisCommand> {
        self.commands
            .iter()
            .filter(|c| !allowed.iter().any(|a| c.name.eq_ignore_ascii_case(a)) && !c.is_wrapper())
            .collect()
    }

    /// How many requests the client sent and waited for (a pipeline or a
    /// transaction sent at once counts once); `None` when the test's Redis
    /// is shared with other clients and the count would not be exact.
    pub fn round_trips(&self) -> Option<u64> {
        self.round_trips
    }

    /// Whether everything was sent as one unit: one command, one
    /// transaction or one script, and nothing besides. Nothing another
    /// client (or a crash) could come between.
    ///
    /// A script call that ran no command (an `EVALSHA` Redis answered
    /// `NOSCRIPT`, which the client follows with `SCRIPT LOAD` and the same
    /// call again) changed nothing, so neither it nor the `SCRIPT` command
    /// counts.
    pub fn is_atomic(&self) -> bool {
        let outside = self
            .commands
            .iter()
            .enumerate()
            .filter(|(_, c)| c.context == Context::Client && !c.is_preparation())
            .filter(|(at, c)| {
                if c.is_script_call() {
                    self.ran_in_script_after(*at)
                } else {
                    !c.is_wrapper()
                }
            })
            .count();
        outside + self.count("EXEC") <= 1
    }

    /// Whether the command after the one at `at` ran inside a script: the
    /// script called at `at` ran something.
    fn ran_in_script_after(&self, at: usize) -> bool {
        self.commands
            .get(at + 1)
            .is_some_and(|next| next.context == Context::Script)
    }

    /// The commands as one line for a failure message:
    /// "SET session:t0k3n ada@example.com, then EXPIRE session:t0k3n 1800".
    pub fn listing(&self) -> String {
        if self.commands.is_empty() {
            return "no command at all".to_owned();
        }
        let parts: Vec<String> = self.commands.iter().map(RedisCommand::display).collect();
        parts.join(", then ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Context::{Client, Script, Transaction};

    /// A log of `commands`, each `(context, "NAME arg arg")`.
    fn log(commands: &[(Context, &str)]) -> RedisLog {
        let commands = commands
            .iter()
            .map(|(context, line)| {
                let mut words = line.split_whitespace().map(str::to_owned);
                RedisCommand {
                    name: words.next().unwrap_or_default(),
                    args: words.collect(),
                    context: *context,
                }
            })
            .collect();
        RedisLog {
            commands,
            round_trips: None,
        }
    }

    #[test]
    fn one_command_a_transaction_or_a_script_is_atomic() {
        assert!(log(&[(Client, "SET k v EX 60")]).is_atomic());
        assert!(
            log(&[
                (Client, "MULTI"),
                (Transaction, "SET k v"),
                (Transaction, "EXPIRE k 60"),
                (Client, "EXEC"),
            ])
            .is_atomic()
        );
        assert!(
            log(&[
                (Client, "EVALSHA abc 1 k"),
                (Script, "SET k v"),
                (Script, "EXPIRE k 60"),
            ])
            .is_atomic()
        );
    }

    /// The names of `commands`, in order.
    fn names_of<'a>(commands: &[&'a RedisCommand]) -> Vec<&'a str> {
        commands.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn commands_ran_together_in_one_transaction_or_by_scripts_only() {
        let together = log(&[
            (Client, "MULTI"),
            (Transaction, "SET k v"),
            (Transaction, "EXPIRE k 60"),
            (Client, "EXEC"),
        ]);
        let data = together.data_commands();
        assert!(together.ran_together(&data));
        let apart = log(&[(Client, "SET k v"), (Client, "EXPIRE k 60")]);
        assert!(!apart.ran_together(&apart.data_commands()));
        let two = log(&[
            (Client, "MULTI"),
            (Transaction, "SET k v"),
            (Client, "EXEC"),
            (Client, "MULTI"),
            (Transaction, "EXPIRE k 60"),
            (Client, "EXEC"),
        ]);
        assert!(!two.ran_together(&two.data_commands()));
        assert!(!together.ran_together(&[]));
    }

    #[test]
    fn blocking_pops_are_the_list_commands_that_wait() {
        let sent = log(&[
            (Client, "LLEN queue:reports"),
            (Client, "BRPOP queue:reports 0"),
            (Client, "BLMOVE queue:a processing:a RIGHT LEFT 0"),
            (Client, "XREAD BLOCK 100 STREAMS s $"),
        ]);
        let names = names_of(&sent.blocking_pops());
        assert_eq!(names, ["BRPOP", "BLMOVE"]);
    }

    #[test]
    fn a_script_call_answered_noscript_does_not_count() {
        let retried = log(&[
            (Client, "EVALSHA abc 1 k"),
            (Client, "SCRIPT LOAD source"),
            (Client, "EVALSHA abc 1 k"),
            (Script, "SET k v"),
            (Script, "EXPIRE k 60"),
        ]);
        assert!(retried.is_atomic());
    }

    #[test]
    fn two_units_or_a_unit_and_a_command_are_not_atomic() {
        assert!(!log(&[(Client, "SET k v"), (Client, "EXPIRE k 60")]).is_atomic());
        assert!(
            !log(&[
                (Client, "MULTI"),
                (Transaction, "SET k v"),
                (Client, "EXEC"),
                (Client, "EXPIRE k 60"),
            ])
            .is_atomic()
        );
        assert!(
            !log(&[
                (Client, "MULTI"),
                (Transaction, "SET k v"),
                (Client, "EXEC"),
                (Client, "MULTI"),
                (Transaction, "EXPIRE k 60"),
                (Client, "EXEC"),
            ])
            .is_atomic()
        );
        assert!(
            !log(&[
                (Client, "EVAL source 1 k"),
                (Script, "SET k v"),
                (Client, "EXPIRE k 60"),
            ])
            .is_atomic()
        );
    }

    #[test]
    fn wrappers_are_not_data_commands() {
        let sent = log(&[
            (Client, "WATCH k"),
            (Client, "MULTI"),
            (Transaction, "SET k v"),
            (Client, "EXEC"),
            (Client, "FCALL_RO f 1 k"),
            (Script, "GET k"),
            (Client, "EVALSHA_RO abc 1 k"),
            (Client, "SCRIPT LOAD source"),
        ]);
        let names = names_of(&sent.data_commands());
        assert_eq!(names, ["SET", "GET"]);
        let others = names_of(&sent.others_than(&["get"]));
        assert_eq!(others, ["WATCH", "SET", "SCRIPT"]);
    }
}
