//! Phase 2, prepare: each resolved pack downloaded (or copied) into a staging directory
//! beside the pack directories, validated (`pack.yaml`, every file registration reads, the
//! existing config against the new schema), and its dependencies prepared before it, so that
//! the plan lists packs in the order they are committed.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::failure::{io_error, Fate, InstallError};
use super::resolve::Resolved;
use super::{recover, PackInstall, Prepared, Venv, VenvRecord};
use crate::git;
use crate::ops::packs::InstallStep;
use crate::pack::manifest::{PackManifest, SYSTEM_PACKS};
use crate::pack::source::likely_name_and_version;
use crate::pack::source::{self, PackSource};
use crate::register::{self, LoadedPack};
use crate::settings::io_reason;
use crate::store::ConfigRecord;

/// What the prepare phase has gathered so far.
#[derive(Default)]
pub(super) struct Preparation {
    /// The packs prepared, dependencies before their dependents: the commit order.
    pub(super) plan: Vec<Prepared>,
    /// Every pack asked for so far: who asked (a pack, or "the command line") and at which
    /// version.
    requested_by: BTreeMap<String, (String, Option<String>)>,
    /// The packs whose dependencies are being prepared, outermost first (to stop at cycles).
    chain: Vec<String>,
}

impl PackInstall<'_> {
    /// Download, validate and (first) the dependencies of one resolved pack, appending to
    /// `preparation`'s plan.
    pub(super) fn prepare(
        &mut self,
        resolved: Resolved,
        dependency_of: Option<&str>,
        preparation: &mut Preparation,
    ) -> Result<(), InstallError> {
        let Resolved {
            label,
            source,
            fetch_url,
            references,
            record,
            requested,
            index_url,
            pin,
            dependency_of: locked_dependency_of,
        } = resolved;
        let dependency_of = dependency_of.map(str::to_string).or(locked_dependency_of);
        self.current = Some(label.clone());
        self.check_interrupt(InstallStep::Download)?;
        self.set_fate(&label, Fate::RolledBack);
        let staging = recover::StagingDir::create(self.settings.packs_dir()).map_err(io_error(
            "create a staging directory in",
            self.settings.packs_dir(),
        ))?;
        let staged = staging.path().join("pack");
        let record = match &pin {
            Some(pin) => self.download_pinned(&label, &source, pin, &staged, record)?,
            None => self.download(&label, &source, &fetch_url, &references, &staged, record)?,
        };
        // Errors name files as the user knows them (the source), not the staging copy.
        let shown = fetch_url
            .strip_prefix("file://")
            .unwrap_or(&fetch_url)
            .to_string();
        let loaded = self.validate(&label, &staged, &shown, &record)?;
        let pack_ref = loaded.registration.pack.pack_ref.clone();
        let tree = crate::pack::tree::tree_hash(&staged).map_err(io_error("read", &staged))?;
        if let Some(pin) = &pin {
            self.check_pinned(pin, &loaded.manifest.version, &tree)?;
        }
        if !first_request(preparation, &pack_ref, &loaded, dependency_of.as_deref())? {
            return Ok(());
        }
        if self.options.locked {
            if !self.options.skip_dependencies {
                self.check_locked_dependencies(&pack_ref, &loaded.manifest.dependencies)?;
            }
        } else if !self.options.skip_dependencies {
            self.prepare_dependencies(&pack_ref, &loaded, preparation)?;
        }
        let config = self.load_existing_config(&pack_ref, &loaded)?;
        let lock_match = match &pin {
            Some(pin) => Some(pin.clone()),
            None => self.lock_match(&pack_ref, &record, &tree),
        };
        preparation.plan.push(Prepared {
            pack_ref,
            loaded,
            staging,
            shown,
            source: record,
            dependency_of,
            virtualenv: Venv::Unchanged("not needed"),
            config,
            requested,
            index_url,
            pin,
            lock_match,
            tree,
            venv_record: VenvRecord::None,
        });
        Ok(())
    }

    /// Fetch a locked pack at its commit (through the git cache: no network when it has the
    /// commit), or copy its directory; the source record, with the commit.
    fn download_pinned(
        &self,
        label: &str,
        source: &PackSource,
        pin: &crate::pack::lockfile::LockedPack,
        staged: &Path,
        mut record: Value,
    ) -> Result<Value, InstallError> {
        self.progress.start(label, InstallStep::Download, &pin.url);
        if let PackSource::Directory { path } = source {
            copy_dir(path, staged)?;
            self.progress.done(label, InstallStep::Download, "copied");
            return Ok(record);
        }
        let commit = pin.commit.as_deref().unwrap_or_default();
        let fetched = git::fetch_commit(
            &pin.url,
            commit,
            pin.reference.as_deref(),
            staged,
            &self.fetch_options(),
        )
        .map_err(|error| InstallError::Git {
            pack: label.to_string(),
            error,
        })?;
        self.progress
            .done(label, InstallStep::Download, &short_commit(&fetched.commit));
        record["commit"] = json!(fetched.commit);
        Ok(record)
    }

    /// Copy or fetch the pack into `staged`; the source record, with the commit fetched.
    fn download(
        &self,
        label: &str,
        source: &PackSource,
        fetch_url: &str,
        references: &[String],
        staged: &Path,
        mut record: Value,
    ) -> Result<Value, InstallError> {
        self.progress.start(label, InstallStep::Download, fetch_url);
        if let PackSource::Directory { path } = source {
            copy_dir(path, staged)?;
            self.progress.done(label, InstallStep::Download, "copied");
            return Ok(record);
        }
        let (fetched, _) = git::fetch_first(fetch_url, references, staged, &self.fetch_options())
            .map_err(|error| InstallError::Git {
            pack: label.to_string(),
            error,
        })?;
        self.progress
            .done(label, InstallStep::Download, &short_commit(&fetched.commit));
        record["commit"] = json!(fetched.commit);
        Ok(record)
    }

    /// Check the staged pack (its files, `pack.yaml`, compatibility) and read every file
    /// registration needs; from here on the pack goes by its ref.
    fn validate(
        &mut self,
        label: &str,
        staged: &Path,
        shown: &str,
        record: &Value,
    ) -> Result<LoadedPack, InstallError> {
        self.check_interrupt(InstallStep::Validate)?;
        self.progress
            .start(label, InstallStep::Validate, "pack.yaml");
        let invalid = |err: &dyn std::fmt::Display| {
            InstallError::Invalid(
                err.to_string()
                    .replace(&staged.display().to_string(), shown),
            )
        };
        crate::pack::safety::check_tree(staged)
            .map_err(|err| InstallError::Invalid(format!("pack {shown} is refused: {err}")))?;
        let manifest = PackManifest::load(staged).map_err(|err| invalid(&err))?;
        let pack_ref = manifest.install_ref().map_err(|err| invalid(&err))?;
        manifest.check_user_pack_ref(&pack_ref)?;
        if !self.options.force {
            manifest.check_compatibility()?;
        }
        let final_dir = self.settings.pack_dir(&pack_ref);
        let loaded = register::load_pack(
            staged,
            &pack_ref,
            manifest,
            &final_dir,
            Some(record.clone()),
            &register::all_content(),
        )
        .map_err(|err| invalid(&err))?;
        if pack_ref != label {
            if let Some(entry) = self.ledger.iter_mut().find(|(n, _)| *n == label) {
                entry.0 = pack_ref.clone();
            }
            self.current = Some(pack_ref.clone());
        }
        self.progress.done(
            &pack_ref,
            InstallStep::Validate,
            &format!(
                "{pack_ref} {} ({} actions)",
                loaded.manifest.version,
                loaded.registration.actions.len()
            ),
        );
        Ok(loaded)
    }

    /// Prepare the dependencies `pack.yaml` lists, before the pack itself.
    fn prepare_dependencies(
        &mut self,
        pack_ref: &str,
        loaded: &LoadedPack,
        preparation: &mut Preparation,
    ) -> Result<(), InstallError> {
        preparation.chain.push(pack_ref.to_string());
        for dependency in &loaded.manifest.dependencies {
            self.prepare_dependency(pack_ref, dependency, preparation)?;
        }
        preparation.chain.pop();
        self.current = Some(pack_ref.to_string());
        Ok(())
    }

    fn prepare_dependency(
        &mut self,
        dependent: &str,
        dependency: &str,
        preparation: &mut Preparation,
    ) -> Result<(), InstallError> {
        let cwd = self.settings.packs_dir().join(dependent);
        let source = source::parse(dependency, &cwd)?;
        let (name, version) = likely_name_and_version(&source);
        if !self.dependency_needed(dependent, &name, &version, preparation)? {
            return Ok(());
        }
        self.set_fate(&name, Fate::NotStarted);
        let resolved = self.resolve(&name, source)?;
        self.prepare(resolved, Some(dependent), preparation)
    }

    /// Whether the dependency `name` (at `version`, if one is asked) of `dependent` is still to
    /// be installed: not a system pack, not in a cycle, not asked for already, not installed.
    /// Another version than the one asked for or installed is a conflict.
    fn dependency_needed(
        &self,
        dependent: &str,
        name: &str,
        version: &Option<String>,
        preparation: &Preparation,
    ) -> Result<bool, InstallError> {
        // StackStorm's own packs are built in: depending on them needs nothing.
        if SYSTEM_PACKS.contains(&name) {
            return Ok(false);
        }
        if preparation.chain.iter().any(|pack| pack == name) {
            tracing::debug!(
                "dependency cycle {} -> {name}: each pack is installed once",
                preparation.chain.join(" -> ")
            );
            return Ok(false);
        }
        if let Some((first_requester, first_version)) = preparation.requested_by.get(name) {
            if version.is_some() && first_version != version {
                return Err(InstallError::Conflict(format!(
                    "pack \"{name}\" is wanted at {} by {first_requester} and at {} by {dependent}",
                    first_version.as_deref().unwrap_or("any version"),
                    version.as_deref().unwrap_or("any version"),
                )));
            }
            return Ok(false);
        }
        // Already installed: fine when no version is asked or it matches (upstream
        // `get_pack_dependencies`); another version is a conflict.
        let Ok(installed) = PackManifest::load(&self.settings.pack_dir(name)) else {
            return Ok(true);
        };
        match version {
            None => Ok(false),
            Some(version) if versions_equal(version, &installed.version) => Ok(false),
            Some(version) => Err(InstallError::Conflict(format!(
                "pack \"{dependent}\" depends on \"{name}\" version {version}, but version {} \
                 is installed; install \"{name}={version}\" first or update \"{dependent}\"",
                installed.version
            ))),
        }
    }

    /// An existing config must suit the new version's schema, as StackStorm registers configs
    /// when it installs (and refuses the install otherwise).
    fn load_existing_config(
        &self,
        pack_ref: &str,
        loaded: &LoadedPack,
    ) -> Result<Option<ConfigRecord>, InstallError> {
        register::load_config(
            &self.settings.config_path(pack_ref),
            pack_ref,
            loaded.registration.config_schema.as_ref(),
        )
        .map_err(|err| InstallError::Invalid(err.to_string()))
    }
}

/// Note who asked for `pack_ref` and at which version; false when it was asked for before
/// (directly, or as a dependency of another pack) at the same version, an error when at
/// another.
fn first_request(
    preparation: &mut Preparation,
    pack_ref: &str,
    loaded: &LoadedPack,
    dependency_of: Option<&str>,
) -> Result<bool, InstallError> {
    let requester = dependency_of.unwrap_or("the command line");
    let version = Some(loaded.manifest.version.clone());
    if let Some((first_requester, first_version)) = preparation.requested_by.get(pack_ref) {
        if first_version != &version {
            return Err(InstallError::Conflict(format!(
                "pack \"{pack_ref}\" is wanted at {} by {} and at {} by {}",
                first_version.as_deref().unwrap_or("any version"),
                first_requester,
                version.as_deref().unwrap_or("any version"),
                requester,
            )));
        }
        return Ok(false);
    }
    preparation
        .requested_by
        .insert(pack_ref.to_string(), (requester.to_string(), version));
    Ok(true)
}

fn versions_equal(asked: &str, installed: &str) -> bool {
    asked.trim_start_matches('v') == installed.trim_start_matches('v')
}

fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}

/// Copy a plain directory (a local pack that is not a git repository), keeping symlinks as
/// symlinks and file modes.
fn copy_dir(from: &Path, to: &Path) -> Result<(), InstallError> {
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(|err| InstallError::Io {
            action: "read",
            path: err.path().unwrap_or(from).to_path_buf(),
            reason: err
                .io_error()
                .map(io_reason)
                .unwrap_or_else(|| err.to_string()),
        })?;
        let relative = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir stays under from");
        let target = to.join(relative);
        let file_type = entry.file_type();
        if file_type.is_dir() {
            std::fs::create_dir_all(&target).map_err(io_error("copy", entry.path()))?;
        } else if file_type.is_symlink() {
            let link = std::fs::read_link(entry.path()).map_err(io_error("read", entry.path()))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io_error("copy", entry.path()))?;
        } else if !file_type.is_file() {
            // A FIFO would block the copy forever; devices and sockets have no place in a pack.
            return Err(InstallError::Invalid(format!(
                "{} is not a regular file, directory or symlink; packs hold only those",
                entry.path().display()
            )));
        } else {
            std::fs::copy(entry.path(), &target).map_err(io_error("copy", entry.path()))?;
        }
    }
    Ok(())
}
