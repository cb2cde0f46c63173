//! Checks on the files of a pack before anything of it is used: a pack comes from a stranger's
//! git repository, and installing it must not read or write outside of it.
//!
//! - A symlink whose target is absolute or climbs out of the pack (`../..`) is refused: pack
//!   content read through it (actions, configs) would come from elsewhere on the machine, and
//!   writes through it would land there.
//! - Git submodules are refused: neither StackStorm nor we fetch them, so the pack would be
//!   installed incomplete, and their URLs are a known attack vector for tools that do.
//! - `..` and `.git` paths in a git tree are refused by libgit2 when it checks the tree out.

use std::path::{Component, Path};

/// Check the pack tree at `root`; the error names the offending file, relative to `root`.
pub(crate) fn check_tree(root: &Path) -> Result<(), String> {
    // The repository's own `.git` (ours, made by the fetch) is not pack content.
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| entry.depth() != 1 || entry.file_name() != ".git");
    for entry in walk {
        let entry = entry.map_err(|err| err.to_string())?;
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if entry.file_type().is_symlink() {
            let target = std::fs::read_link(entry.path()).map_err(|err| err.to_string())?;
            if escapes(relative, &target) {
                return Err(format!(
                    "{} is a symlink to {}, outside the pack; packs may only link to their own files",
                    relative.display(),
                    target.display()
                ));
            }
        }
    }
    let modules = root.join(".gitmodules");
    if let Ok(text) = std::fs::read_to_string(&modules) {
        if let Some(line) = text
            .lines()
            .find(|line| line.trim_start().starts_with("[submodule"))
        {
            return Err(format!(
                ".gitmodules declares a git submodule ({}); submodules are not fetched by \
                 `st2 pack install` (nor by StackStorm), so the pack would be incomplete. Include \
                 the code in the pack's own repository",
                line.trim()
            ));
        }
    }
    Ok(())
}

/// Whether a symlink at `link` (relative to the pack root) pointing at `target` resolves
/// outside the pack, judged by the path alone (the target need not exist).
fn escapes(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return true;
    }
    let mut depth: usize = link.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => return true,
            },
            Component::RootDir | Component::Prefix(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_inside_the_pack_are_fine_and_others_are_refused() {
        assert!(!escapes(Path::new("actions/a.yaml"), Path::new("b.yaml")));
        assert!(!escapes(
            Path::new("actions/a.yaml"),
            Path::new("../lib/x.py")
        ));
        assert!(!escapes(Path::new("a"), Path::new("./actions/../b")));
        assert!(escapes(Path::new("a"), Path::new("../x")));
        assert!(escapes(Path::new("actions/a"), Path::new("../../x")));
        assert!(escapes(Path::new("actions/a"), Path::new("x/../../../y")));
        assert!(escapes(Path::new("a"), Path::new("/etc/passwd")));
    }

    #[test]
    fn tree_check_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("actions")).unwrap();
        symlink("../README.md", dir.path().join("actions/readme")).unwrap();
        assert_eq!(check_tree(dir.path()), Ok(()));
        symlink("/etc", dir.path().join("actions/etc")).unwrap();
        let err = check_tree(dir.path()).unwrap_err();
        assert!(
            err.starts_with("actions/etc is a symlink to /etc, outside the pack"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("actions/etc")).unwrap();
        std::fs::write(dir.path().join(".gitmodules"), "").unwrap();
        assert_eq!(check_tree(dir.path()), Ok(()));
        std::fs::write(
            dir.path().join(".gitmodules"),
            "[submodule \"lib\"]\n\tpath = lib\n\turl = ext::sh\n",
        )
        .unwrap();
        assert!(check_tree(dir.path()).unwrap_err().contains("submodule"));
    }
}
