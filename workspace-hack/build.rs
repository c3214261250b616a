// Cargo considers a package's build dependencies only when it has a build
// script; this one does nothing else.
fn main() {}
