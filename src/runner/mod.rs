//! Runners: what executes an action. For now this module knows which runner types exist in
//! StackStorm 3.9.0 (the names under `contrib/runners/*/runner.yaml`), so that registration can
//! refuse an action whose `runner_type` is unknown, as upstream does.

/// Every runner type StackStorm 3.9.0 ships.
pub const RUNNER_TYPES: &[&str] = &[
    "action-chain",
    "announcement",
    "http-request",
    "inquirer",
    "local-shell-cmd",
    "local-shell-script",
    "noop",
    "orquesta",
    "python-script",
    "remote-shell-cmd",
    "remote-shell-script",
    "winrm-cmd",
    "winrm-ps-cmd",
    "winrm-ps-script",
];

/// Whether `name` is a runner type StackStorm knows.
pub fn is_known(name: &str) -> bool {
    RUNNER_TYPES.contains(&name)
}

/// Whether actions of this runner run Python code from the pack (and so need its virtualenv).
pub fn needs_python(name: &str) -> bool {
    name == "python-script"
}

#[cfg(test)]
mod tests {
    #[test]
    fn knows_stackstorm_runners_only() {
        assert!(super::is_known("python-script"));
        assert!(super::is_known("orquesta"));
        assert!(!super::is_known("mistral-v2"));
        assert!(super::needs_python("python-script"));
        assert!(!super::needs_python("local-shell-cmd"));
    }
}
