//! Packs on disk: the PACK argument ([`source`]), `pack.yaml` ([`manifest`]), pack refs
//! ([`PackRef`]), checks on untrusted pack trees ([`safety`]), finding installed packs in
//! the pack directories ([`discover`]), the lock file ([`lockfile`]) and the files of an
//! installed pack ([`tree`]). Installing and removing them are operations
//! (`ops::local`), which use these.

pub(crate) mod lockfile;
pub(crate) mod manifest;
pub(crate) mod safety;
pub(crate) mod source;
pub(crate) mod tree;

use std::path::{Path, PathBuf};

use crate::settings::Settings;

/// A pack ref as StackStorm accepts one (`^[a-z0-9_]+$`, `PACK_REF_WHITELIST_REGEX`), checked
/// once where it comes in: safe to name a directory, a config file or a lock after.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct PackRef(String);

impl PackRef {
    /// `text` as a pack ref, if it is one.
    pub(crate) fn parse(text: &str) -> Option<PackRef> {
        manifest::is_valid_ref(text).then(|| PackRef(text.to_string()))
    }
}

impl std::ops::Deref for PackRef {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PackRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A pack directory found in one of the pack search paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundPack {
    /// The directory name (StackStorm uses it as the pack name for content and configs).
    pub dir_name: String,
    /// The directory.
    pub path: PathBuf,
}

/// Errors while looking for packs.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DiscoverError {
    /// A configured pack directory does not exist (upstream: `Directory "<dir>" doesn't exist`).
    #[error("Directory \"{}\" doesn't exist (listed in [content] packs_base_paths)", .0.display())]
    MissingBase(PathBuf),
    /// A directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Every pack directory (a directory holding `pack.yaml`) in the search paths, in search order.
/// When two base directories hold the same pack name, the first one wins and the later one is
/// reported in the returned warnings (upstream lets the last win for the pack record and the
/// first for its content; we are consistent).
pub(crate) fn discover(
    settings: &Settings,
) -> Result<(Vec<FoundPack>, Vec<String>), DiscoverError> {
    let mut found: Vec<FoundPack> = Vec::new();
    let mut warnings = Vec::new();
    for (index, base) in settings.pack_search_paths().into_iter().enumerate() {
        if !base.is_dir() {
            // The system packs directory is created on first install; a missing one is empty.
            if index == 0 {
                continue;
            }
            return Err(DiscoverError::MissingBase(base));
        }
        for pack in packs_in(&base)? {
            if let Some(first) = found.iter().find(|f| f.dir_name == pack.dir_name) {
                warnings.push(format!(
                    "Pack \"{}\" already found in \"{}\", ignoring content from \"{}\"",
                    pack.dir_name,
                    first.path.display(),
                    pack.path.display()
                ));
                continue;
            }
            found.push(pack);
        }
    }
    Ok((found, warnings))
}

fn packs_in(base: &Path) -> Result<Vec<FoundPack>, DiscoverError> {
    let read_error = |source| DiscoverError::Read {
        path: base.to_path_buf(),
        source,
    };
    let mut packs = Vec::new();
    for entry in std::fs::read_dir(base).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let dir_name = entry.file_name().to_string_lossy().into_owned();
        // Dot-directories hold our staging copies; `__pycache__` is skipped upstream.
        if dir_name.starts_with('.') || dir_name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() && path.join(manifest::MANIFEST_FILE_NAME).is_file() {
            packs.push(FoundPack { dir_name, path });
        }
    }
    packs.sort_by(|a, b| a.dir_name.cmp(&b.dir_name));
    Ok(packs)
}
