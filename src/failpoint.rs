//! Crash points for tests: in debug builds, `ST2_FAILPOINT=<name>` makes the process kill
//! itself with SIGKILL when it reaches [`hit`]`(<name>)`, so that a crash in the narrowest
//! windows (between a directory swap and the store commit) can be tested deterministically.
//! Release builds compile [`hit`] to nothing.

/// Die here, as by `kill -9`, when `ST2_FAILPOINT` names this point (debug builds only).
#[inline]
pub(crate) fn hit(name: &str) {
    #[cfg(debug_assertions)]
    if std::env::var_os(crate::settings::env::ST2_FAILPOINT).is_some_and(|wanted| wanted == name) {
        crate::sys::kill_self();
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
