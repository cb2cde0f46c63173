//! Helpers for the unit tests.

/// A unit test that cannot run here (`../shared` missing, an opt-out set) says so and returns;
/// in CI (`CI` set and not `0`/`false`, as `.ci/run` sets it) a skip would pass silently, so
/// it fails instead, as `tests/it/common.rs`'s `skip_unless` does for the integration tests.
pub(crate) fn skip(why: &str) {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    assert!(!ci, "{why}: this test cannot be skipped in CI");
    eprintln!("skipped: {why}");
}
