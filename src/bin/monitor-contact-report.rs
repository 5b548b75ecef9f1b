//! `monitor-contact-report`: QA coverage per agent from the QA state table (issue 18). Everything is in
//! the library's `report` module; see docs/operations.md#qa-coverage-report.

use std::process::ExitCode;

// One query at a time: a single-threaded runtime is all it needs.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    monitor_contact::report::main().await
}
