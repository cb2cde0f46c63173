//! A virtualenv lives elsewhere than where it was built (a staging directory): the paths
//! tools wrote into it are rewritten for its final place.

use std::fs;
use std::path::{Path, PathBuf};

use super::{io_err, VenvError};

/// The virtualenv was built at `staging` but will live elsewhere: for each
/// `(from, to)` of `moves` (the first is the virtualenv's own move; a pack
/// directory installed from may follow), rewrite the absolute path `from`
/// where tools wrote it into text files
/// (pip's console-script shebangs, `activate*`, `pyvenv.cfg`, and what points
/// editable installs at their checkout in `<venv>/src/`: `*.pth`,
/// `__editable__*.py` finders, `*.egg-link`, `direct_url.json`). `bin/python`
/// itself needs nothing: it finds `pyvenv.cfg` relative to itself, and uv's
/// `--relocatable` scripts use relative paths already.
pub(super) fn fix_paths_after_move(
    staging: &Path,
    moves: &[(&Path, &Path)],
) -> Result<(), VenvError> {
    let mut files = vec![staging.join("pyvenv.cfg")];
    let bin = staging.join("bin");
    if let Ok(entries) = fs::read_dir(&bin) {
        files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    for site_packages in site_packages_dirs(staging) {
        let Ok(entries) = fs::read_dir(&site_packages) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".pth")
                || name.ends_with(".egg-link")
                || (name.starts_with("__editable__") && name.ends_with(".py"))
            {
                files.push(path);
            } else if name.ends_with(".dist-info") {
                files.push(path.join("direct_url.json"));
            }
        }
        // Bytecode of the finders holds the old path too; Python rebuilds it.
        if let Ok(entries) = fs::read_dir(site_packages.join("__pycache__")) {
            for entry in entries.filter_map(|e| e.ok()) {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("__editable__")
                {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
    }
    for path in files {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 4 * 1024 * 1024 {
            continue;
        }
        let content = fs::read(&path).map_err(io_err(&path))?;
        let mut changed: Option<Vec<u8>> = None;
        for (from, to) in moves {
            let from = from.as_os_str().as_encoded_bytes();
            let to = to.as_os_str().as_encoded_bytes();
            if let Some(replaced) = replace_all(changed.as_deref().unwrap_or(&content), from, to) {
                changed = Some(replaced);
            }
        }
        if let Some(replaced) = changed {
            fs::write(&path, replaced).map_err(io_err(&path))?;
        }
    }
    Ok(())
}

/// `<venv>/lib*/python*/site-packages`.
fn site_packages_dirs(venv: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = fs::read_dir(venv.join(lib)) else {
            continue;
        };
        for entry in entries.filter_map(|e| e.ok()) {
            let is_python = entry.file_name().to_string_lossy().starts_with("python");
            let site_packages = entry.path().join("site-packages");
            // `lib64` is often a symlink to `lib`: keep each directory once.
            if is_python && site_packages.is_dir() && !entry.path().is_symlink() {
                dirs.push(site_packages);
            }
        }
    }
    dirs
}

/// `haystack` with every `from` replaced by `to`; `None` if `from` is absent.
fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    if from.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    let mut found = false;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
            found = true;
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_all_replaces_every_occurrence() {
        assert_eq!(
            replace_all(b"#!/a/.staging-x/bin/python\n", b"/a/.staging-x", b"/a/x"),
            Some(b"#!/a/x/bin/python\n".to_vec())
        );
        assert_eq!(replace_all(b"nothing", b"/a", b"/b"), None);
    }
}
