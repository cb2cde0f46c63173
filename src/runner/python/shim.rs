//! The Python modules StackStorm's actions import (`st2common...`, `st2actions...`) and the
//! action wrapper itself (`python_runner.python_action_wrapper`), as files: `shim/` is
//! embedded in the binary and written out once to `<base_path>/cache/python-shim-<hash>/`,
//! which the runner puts last on the action's `PYTHONPATH`.
//!
//! Files rather than one `-c` string: Python imports (and caches as bytecode) only the modules
//! an action uses, so a trivial action starts as fast as Python does; and a pack's own
//! subprocesses that import `st2common` find it too, as they do on a StackStorm host.

use std::path::{Path, PathBuf};

use crate::settings::Settings;

/// Every file of `shim/`, by its path inside it.
const FILES: &[(&str, &str)] = &[
    (
        "python_runner/__init__.py",
        include_str!("shim/python_runner/__init__.py"),
    ),
    (
        "python_runner/python_action_wrapper.py",
        include_str!("shim/python_runner/python_action_wrapper.py"),
    ),
    (
        "st2actions/__init__.py",
        include_str!("shim/st2actions/__init__.py"),
    ),
    (
        "st2actions/runners/__init__.py",
        include_str!("shim/st2actions/runners/__init__.py"),
    ),
    (
        "st2actions/runners/pythonrunner.py",
        include_str!("shim/st2actions/runners/pythonrunner.py"),
    ),
    (
        "st2common/__init__.py",
        include_str!("shim/st2common/__init__.py"),
    ),
    (
        "st2common/_st2rs.py",
        include_str!("shim/st2common/_st2rs.py"),
    ),
    (
        "st2common/constants/__init__.py",
        include_str!("shim/st2common/constants/__init__.py"),
    ),
    (
        "st2common/constants/action.py",
        include_str!("shim/st2common/constants/action.py"),
    ),
    (
        "st2common/constants/keyvalue.py",
        include_str!("shim/st2common/constants/keyvalue.py"),
    ),
    (
        "st2common/constants/pack.py",
        include_str!("shim/st2common/constants/pack.py"),
    ),
    (
        "st2common/content/__init__.py",
        include_str!("shim/st2common/content/__init__.py"),
    ),
    (
        "st2common/content/utils.py",
        include_str!("shim/st2common/content/utils.py"),
    ),
    (
        "st2common/exceptions/__init__.py",
        include_str!("shim/st2common/exceptions/__init__.py"),
    ),
    (
        "st2common/exceptions/action.py",
        include_str!("shim/st2common/exceptions/action.py"),
    ),
    (
        "st2common/expressions/__init__.py",
        include_str!("shim/st2common/expressions/__init__.py"),
    ),
    (
        "st2common/expressions/functions/__init__.py",
        include_str!("shim/st2common/expressions/functions/__init__.py"),
    ),
    (
        "st2common/expressions/functions/data.py",
        include_str!("shim/st2common/expressions/functions/data.py"),
    ),
    (
        "st2common/expressions/functions/datastore.py",
        include_str!("shim/st2common/expressions/functions/datastore.py"),
    ),
    (
        "st2common/expressions/functions/path.py",
        include_str!("shim/st2common/expressions/functions/path.py"),
    ),
    (
        "st2common/expressions/functions/regex.py",
        include_str!("shim/st2common/expressions/functions/regex.py"),
    ),
    (
        "st2common/expressions/functions/time.py",
        include_str!("shim/st2common/expressions/functions/time.py"),
    ),
    (
        "st2common/expressions/functions/version.py",
        include_str!("shim/st2common/expressions/functions/version.py"),
    ),
    ("st2common/log.py", include_str!("shim/st2common/log.py")),
    (
        "st2common/runners/__init__.py",
        include_str!("shim/st2common/runners/__init__.py"),
    ),
    (
        "st2common/runners/base_action.py",
        include_str!("shim/st2common/runners/base_action.py"),
    ),
    (
        "st2common/runners/utils.py",
        include_str!("shim/st2common/runners/utils.py"),
    ),
    (
        "st2common/services/__init__.py",
        include_str!("shim/st2common/services/__init__.py"),
    ),
    (
        "st2common/services/datastore.py",
        include_str!("shim/st2common/services/datastore.py"),
    ),
    (
        "st2common/util/__init__.py",
        include_str!("shim/st2common/util/__init__.py"),
    ),
    (
        "st2common/util/compat.py",
        include_str!("shim/st2common/util/compat.py"),
    ),
    (
        "st2common/util/date.py",
        include_str!("shim/st2common/util/date.py"),
    ),
    (
        "st2common/util/isotime.py",
        include_str!("shim/st2common/util/isotime.py"),
    ),
    (
        "st2common/util/jinja.py",
        include_str!("shim/st2common/util/jinja.py"),
    ),
    (
        "st2common/util/jsonify.py",
        include_str!("shim/st2common/util/jsonify.py"),
    ),
    (
        "st2common/util/shell.py",
        include_str!("shim/st2common/util/shell.py"),
    ),
];

/// The directory holding the modules (written on first use), for `PYTHONPATH`.
pub fn dir(settings: &Settings) -> std::io::Result<PathBuf> {
    let dir = settings
        .cache_dir()
        .join(format!("python-shim-{:016x}", fingerprint()));
    if dir.join(MARKER).is_file() {
        return Ok(dir);
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staging = tempfile::Builder::new()
        .prefix(".python-shim-")
        .tempdir_in(parent)?;
    for (path, text) in FILES {
        let target = staging.path().join(path);
        if let Some(folder) = target.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(&target, text)?;
    }
    std::fs::write(staging.path().join(MARKER), "")?;
    let staged = staging.keep();
    if let Err(err) = std::fs::rename(&staged, &dir) {
        let _ = std::fs::remove_dir_all(&staged);
        // Another process wrote it first.
        if !dir.join(MARKER).is_file() {
            return Err(err);
        }
    }
    Ok(dir)
}

/// Written last: a directory without it is not complete.
const MARKER: &str = ".complete";

/// FNV-1a of every path and content: a new binary with other modules writes a new directory.
fn fingerprint() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (path, text) in FILES {
        for byte in path.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_of_the_shim_directory_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runner/python/shim");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|ext| ext == "py") {
                    let relative = path.strip_prefix(&root).unwrap();
                    on_disk.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let embedded: Vec<String> = FILES.iter().map(|(path, _)| path.to_string()).collect();
        assert_eq!(embedded, on_disk, "list every shim/*.py in FILES");
    }

    #[test]
    fn written_once_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::from_ini(&Default::default(), Some(dir.path().to_path_buf()), None).unwrap();
        let written = super::dir(&settings).unwrap();
        assert!(written.join("st2common/runners/base_action.py").is_file());
        assert!(written.join(MARKER).is_file());
        assert_eq!(super::dir(&settings).unwrap(), written);
    }
}
