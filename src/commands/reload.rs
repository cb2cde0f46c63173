//! `st2ctl reload` (also `st2 reload`): register the content of every pack in the pack
//! directories, as `st2ctl reload` does upstream, but reporting every failure on one line each
//! and still registering the other packs. A pack with a bad file keeps its previous
//! registration whole, unless `--register-no-fail-on-failure` asks for its good files to be
//! registered as StackStorm then does (`ops::local::register`).

use super::pack::register::print_report;
use super::{Context, ExitStatus};
use crate::cli::ReloadArgs;
use crate::ops::packs::{RegisterRequest, VenvAction};
use crate::register::{ContentType, Selection};

/// Run the command.
pub(crate) fn run(args: &ReloadArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    if args.verbose && !context.printer.is_data() {
        let file = context
            .settings
            .config_file
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|| "(built-in defaults)".into());
        context.printer.info(&format!(
            "Registering content...[flags = --config-file {file}{}]",
            flag_list(args)
        ));
    }
    let request = RegisterRequest {
        selection: selection(args),
        packs: None,
        venvs: if args.register_recreate_virtualenvs {
            VenvAction::Recreate
        } else if args.register_setup_virtualenvs {
            VenvAction::Setup
        } else {
            VenvAction::None
        },
        // `--register-fail-on-failure` is upstream's deprecated no-op: failing is the default.
        fail_on_failure: !args.register_no_fail_on_failure,
    };
    let report = context.backend().register_packs(&request)?;
    print_report(&report, context);
    Ok(
        if report.failures.is_empty() || args.register_no_fail_on_failure {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        },
    )
}

/// The content types the flags ask for. Flags that only modify the run (fail-on-failure,
/// verbose) do not count as a choice, so alone they mean the defaults ([fix]: upstream
/// registers nothing for `--register-no-fail-on-failure` alone).
pub(crate) fn selection(args: &ReloadArgs) -> Selection {
    let chosen: Vec<(bool, &[ContentType])> = vec![
        (args.register_all, &ContentType::ALL),
        (args.register_triggers, &[ContentType::Triggers]),
        (args.register_sensors, &[ContentType::Sensors]),
        (args.register_runners, &[ContentType::Runners]),
        (
            args.register_actions,
            &[ContentType::Runners, ContentType::Actions],
        ),
        (args.register_rules, &[ContentType::Rules]),
        (args.register_aliases, &[ContentType::Aliases]),
        (args.register_policies, &[ContentType::Policies]),
        (args.register_configs, &[ContentType::Configs]),
    ];
    let venvs_only = args.register_setup_virtualenvs || args.register_recreate_virtualenvs;
    if !chosen.iter().any(|(on, _)| *on) && !venvs_only {
        return ContentType::DEFAULT.into_iter().collect();
    }
    chosen
        .into_iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, types)| types.iter().copied())
        .collect()
}

fn flag_list(args: &ReloadArgs) -> String {
    let flags = [
        (args.register_all, "--register-all"),
        (args.register_triggers, "--register-triggers"),
        (args.register_sensors, "--register-sensors"),
        (args.register_runners, "--register-runners"),
        (args.register_actions, "--register-actions"),
        (args.register_rules, "--register-rules"),
        (args.register_aliases, "--register-aliases"),
        (args.register_policies, "--register-policies"),
        (args.register_configs, "--register-configs"),
        (
            args.register_setup_virtualenvs,
            "--register-setup-virtualenvs",
        ),
        (
            args.register_recreate_virtualenvs,
            "--register-recreate-virtualenvs",
        ),
        (args.register_fail_on_failure, "--register-fail-on-failure"),
        (
            args.register_no_fail_on_failure,
            "--register-no-fail-on-failure",
        ),
    ];
    flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, flag)| format!(" {flag}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(selection: Selection) -> Vec<&'static str> {
        selection.into_iter().map(ContentType::plural).collect()
    }

    #[test]
    fn defaults_replace_and_modifiers() {
        let defaults = names(selection(&ReloadArgs::default()));
        assert_eq!(
            defaults,
            ["triggers", "sensors", "runners", "actions", "rules", "aliases", "configs"]
        );
        let modifier_only = ReloadArgs {
            register_no_fail_on_failure: true,
            verbose: true,
            ..Default::default()
        };
        assert_eq!(names(selection(&modifier_only)), defaults);
        let configs = ReloadArgs {
            register_configs: true,
            ..Default::default()
        };
        assert_eq!(names(selection(&configs)), ["configs"]);
        let actions = ReloadArgs {
            register_actions: true,
            register_policies: true,
            ..Default::default()
        };
        assert_eq!(
            names(selection(&actions)),
            ["runners", "actions", "policies"]
        );
        let all = ReloadArgs {
            register_all: true,
            ..Default::default()
        };
        assert_eq!(selection(&all).len(), 8);
        let venvs = ReloadArgs {
            register_setup_virtualenvs: true,
            ..Default::default()
        };
        assert!(selection(&venvs).is_empty());
    }
}
