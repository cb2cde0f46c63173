//! `st2 pack update [PACK...|--all]`: each pack to the newest version compatible with the
//! other installed packs ([`super::pack_outdated`]), installed as `st2 pack install` installs
//! (resolved, staged, virtualenvs built, then all committed at once or none), the lock file
//! updated. A pack that follows the index's newest version or a branch stays that way; a
//! pinned one moves only when named, and its pin moves with it.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::pack_install;
use crate::ops::packs::{
    InstallFailed, InstallProgress, InstallRequest, PackUpdate, UpdateAnswer, UpdateReport,
    UpdateRequest,
};
use crate::settings::Settings;

/// Update packs (the local side of [`crate::ops::PackOps::update_packs`]).
pub(crate) fn update_packs(
    settings: &Settings,
    request: &UpdateRequest,
    progress: &dyn InstallProgress,
    interrupt: Arc<AtomicBool>,
) -> UpdateAnswer {
    let mut warnings = Vec::new();
    let failed = |warnings, message: String| UpdateAnswer {
        warnings,
        outcome: Err(InstallFailed {
            messages: vec![message],
            outcome: None,
        }),
    };
    if request.packs.is_empty() && !request.all {
        return failed(
            warnings,
            "name the packs to update, or --all for every installed pack".into(),
        );
    }
    let candidates = match super::pack_outdated::candidates(
        settings,
        &request.packs,
        request.offline,
        &mut warnings,
    ) {
        Ok(candidates) => candidates,
        Err(err) => return failed(warnings, format!("{err:#}")),
    };
    let mut report = UpdateReport::default();
    let mut targets = Vec::new();
    let mut unknown = Vec::new();
    for candidate in candidates {
        let pack = candidate.report;
        let named = request.packs.contains(&pack.pack_ref);
        let unchanged = |reason: String| PackUpdate {
            pack_ref: pack.pack_ref.clone(),
            from: pack.installed.clone(),
            to: pack.installed.clone(),
            reason: Some(reason),
        };
        match candidate.target {
            _ if pack.status == "unknown" => {
                let why = pack.note.clone().unwrap_or_default();
                if named {
                    unknown.push(format!("{}: cannot be checked: {why}", pack.pack_ref));
                } else {
                    report
                        .unchanged
                        .push(unchanged(format!("cannot be checked: {why}")));
                }
            }
            Some(_) if pack.pinned && !named => report.unchanged.push(unchanged(format!(
                "pinned; {} is available (name it to update it)",
                pack.compatible.clone().unwrap_or_default()
            ))),
            Some(target) => {
                report.updated.push(PackUpdate {
                    pack_ref: pack.pack_ref.clone(),
                    from: pack.installed.clone(),
                    to: pack.compatible.clone().unwrap_or_default(),
                    reason: pack.note.clone(),
                });
                targets.push(target);
            }
            None => report.unchanged.push(unchanged(match &pack.note {
                Some(note) => format!("up to date ({note})"),
                None => "up to date".into(),
            })),
        }
    }
    if !unknown.is_empty() {
        return UpdateAnswer {
            warnings,
            outcome: Err(InstallFailed {
                messages: unknown,
                outcome: Some("Nothing was updated.".into()),
            }),
        };
    }
    if targets.is_empty() {
        return UpdateAnswer {
            warnings,
            outcome: Ok(report),
        };
    }
    let install = InstallRequest {
        packs: Vec::new(),
        force: false,
        skip_dependencies: false,
        skip_virtualenv: request.skip_virtualenv,
        announce_content: false,
        locked: false,
        offline: request.offline,
    };
    let answer = pack_install::install_targets(settings, &install, targets, progress, interrupt);
    warnings.extend(answer.warnings);
    let outcome = answer
        .outcome
        .map(|installed| report.with_installed(installed));
    UpdateAnswer { warnings, outcome }
}
