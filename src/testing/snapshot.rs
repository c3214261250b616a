//! `graded_snapshot!`: a graded test's value compared with the answer key's
//! recorded snapshot.

/// Compares `value` with the snapshot `name` recorded from the answer key
/// in the `snapshots` folder beside the graded suite, and fails with
/// `message` (which should say what the snapshot shows and what to look
/// at) when they differ; insta prints the difference above it.
///
/// The name alone names the file, whichever crate runs the suite (the
/// answer key, the exercises, the grader's own crate), so one recording
/// serves them all. Redactions (`{ ".id" => "[id]" }`) may follow.
#[macro_export]
macro_rules! graded_snapshot {
    ($name:expr, $value:expr, $message:expr $(, $redactions:tt)?) => {{
        // Evaluated here, outside the closure, so the value may be awaited.
        let value = $value;
        let outcome = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| {
            ::insta::with_settings!({ snapshot_path => "snapshots", prepend_module_to_snapshot => false }, {
                ::insta::assert_json_snapshot!($name, value $(, $redactions)?);
            });
        }));
        if outcome.is_err() {
            panic!(
                "{} (it differs from the answer key's recorded snapshot `{}`; the difference is printed above)",
                $message, $name
            );
        }
    }};
}
