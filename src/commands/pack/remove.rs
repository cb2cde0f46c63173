//! `st2 pack remove REF...`: the pack directory, its virtualenv, and everything registered
//! for it. The user's config file (`configs/<ref>.yaml`) is kept, as upstream keeps it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commands::{Context, ExitStatus};
use crate::lock::PackLock;
use crate::settings::io_reason;
use crate::store::Store;

#[derive(Serialize)]
struct Removed {
    #[serde(rename = "ref")]
    pack_ref: String,
    removed: Vec<String>,
}

/// Run the command.
pub fn run(packs: &[String], context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    let mut store = super::open_store(context)?;
    let mut removed = Vec::new();
    let mut failed = false;
    for pack_ref in packs {
        match remove_one(pack_ref, context, store.as_mut()) {
            Ok(Some(what)) => {
                if !printer.is_data() {
                    printer.info(&format!("Removed pack {pack_ref} ({})", what.join(", ")));
                }
                removed.push(Removed {
                    pack_ref: pack_ref.clone(),
                    removed: what,
                });
            }
            Ok(None) => {
                failed = true;
                printer.error(&format!("Pack \"{pack_ref}\" is not installed."));
            }
            Err(err) => {
                failed = true;
                printer.error(&format!("Failed to remove pack \"{pack_ref}\": {err:#}"));
            }
        }
    }
    if printer.is_data() {
        printer.data(&removed);
    }
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn remove_one(
    pack_ref: &str,
    context: &Context,
    store: Option<&mut Store>,
) -> anyhow::Result<Option<Vec<String>>> {
    let settings = &context.settings;
    if !crate::pack::manifest::is_valid_ref(pack_ref) {
        return Ok(None);
    }
    let pack_dir = settings.pack_dir(pack_ref);
    let venv_dir = settings.venv_dir(pack_ref);
    let registered = match &store {
        Some(store) => store.pack(pack_ref)?.is_some(),
        None => false,
    };
    if !registered && !pack_dir.exists() {
        return Ok(None);
    }
    settings.ensure_writable()?;
    let printer = &context.printer;
    let _lock = PackLock::acquire(&settings.locks_dir(), pack_ref, || {
        printer.info(&format!(
            "Blocking waiting for file lock on pack {pack_ref}"
        ))
    })?;

    // Move the directories aside first (atomic renames), then drop the store rows, then
    // delete: a failure before the store write puts everything back.
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut what = Vec::new();
    for (dir, label) in [(&pack_dir, "directory"), (&venv_dir, "virtualenv")] {
        if dir.exists() {
            match move_aside(dir) {
                Ok(aside) => {
                    moved.push((dir.clone(), aside));
                    what.push(label.to_string());
                }
                Err(err) => {
                    restore(&moved);
                    return Err(err);
                }
            }
        }
    }
    if let Some(store) = store {
        match store.remove_pack(pack_ref) {
            Ok(true) => what.push("registered content".into()),
            Ok(false) => {}
            Err(err) => {
                restore(&moved);
                return Err(err.into());
            }
        }
    }
    for (_, aside) in &moved {
        if let Err(err) = std::fs::remove_dir_all(aside) {
            context.printer.warn(&format!(
                "could not delete {}: {}",
                aside.display(),
                io_reason(&err)
            ));
        }
    }
    Ok(Some(what))
}

fn move_aside(dir: &Path) -> anyhow::Result<PathBuf> {
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let aside = parent.join(format!(
        "{}{name}-{}",
        crate::ops::local::recover::REMOVING_PREFIX,
        std::process::id()
    ));
    std::fs::rename(dir, &aside)
        .map_err(|err| anyhow::anyhow!("cannot move {}: {}", dir.display(), io_reason(&err)))?;
    Ok(aside)
}

fn restore(moved: &[(PathBuf, PathBuf)]) {
    for (original, aside) in moved.iter().rev() {
        let _ = std::fs::rename(aside, original);
    }
}
