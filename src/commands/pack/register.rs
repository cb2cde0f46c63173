//! `st2 pack register [REF|PATH]... [--types TYPE...]`: register installed packs, all of
//! them when none is named, every content type unless `--types` names some. The report's
//! printing is shared with `st2ctl reload`.

use crate::cli::RegisterType;
use crate::commands::{Context, ExitStatus};
use crate::ops::packs::{RegisterReport, RegisterRequest, VenvAction};
use crate::ops::InvalidRequest;
use crate::register::{all_content, ContentType, Selection};

/// Run the command.
pub(crate) fn run(
    packs: &[String],
    types: &[RegisterType],
    context: &Context,
) -> anyhow::Result<ExitStatus> {
    let request = RegisterRequest {
        selection: selection(types)?,
        packs: (!packs.is_empty()).then(|| packs.to_vec()),
        venvs: VenvAction::None,
        // StackStorm's `st2 pack register` posts no `fail_on_failure`, and the API defaults it
        // to true (`st2api/controllers/v1/packs.py`).
        fail_on_failure: true,
    };
    let report = context.backend().register_packs(&request)?;
    print_report(&report, context);
    Ok(if report.failures.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// The content types `--types` names: every type when none is given or `all` is among them
/// (StackStorm's `PackRegisterController`). Rule and policy types are built in, so they add
/// nothing; asking for them alone is refused rather than registering nothing silently.
fn selection(types: &[RegisterType]) -> Result<Selection, InvalidRequest> {
    if types.is_empty() || types.contains(&RegisterType::All) {
        return Ok(all_content());
    }
    let selection: Selection = types
        .iter()
        .filter_map(|content| match content {
            RegisterType::Runner => Some(ContentType::Runners),
            RegisterType::Action => Some(ContentType::Actions),
            RegisterType::Trigger => Some(ContentType::Triggers),
            RegisterType::Sensor => Some(ContentType::Sensors),
            RegisterType::Rule => Some(ContentType::Rules),
            RegisterType::Alias => Some(ContentType::Aliases),
            RegisterType::Policy => Some(ContentType::Policies),
            RegisterType::Config => Some(ContentType::Configs),
            RegisterType::All | RegisterType::RuleType | RegisterType::PolicyType => None,
        })
        .collect();
    if selection.is_empty() {
        return Err(InvalidRequest(
            "--types: rule and policy types are built into st2-rs and need no registering; \
             name a content type (actions, rules, policies, configs, ...)"
                .into(),
        ));
    }
    Ok(selection)
}

/// Print counts StackStorm style (`Registered N actions.`, one line per registered type in
/// StackStorm's order), what was unregistered, failures and warnings.
pub(crate) fn print_report(report: &RegisterReport, context: &Context) {
    let printer = &context.printer;
    for warning in &report.warnings {
        printer.warn(warning);
    }
    if printer.is_data() {
        printer.data(report);
    } else {
        printer.line(&format!("Registered {} packs.", report.packs.len()));
        for (content, count) in &report.counts {
            printer.line(&format!("Registered {count} {}.", content.plural()));
        }
        if let Some(count) = report.virtualenvs {
            printer.line(&format!("Setup virtualenv for {count} pack(s)."));
        }
        for removed in &report.removed {
            printer.line(&format!("Unregistered {removed}."));
        }
    }
    for failure in &report.failures {
        printer.error(failure);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_select_content_as_stackstorms_register_api_does() {
        assert_eq!(selection(&[]).unwrap(), all_content());
        assert_eq!(
            selection(&[RegisterType::Action, RegisterType::All]).unwrap(),
            all_content()
        );
        assert_eq!(
            selection(&[
                RegisterType::Config,
                RegisterType::Action,
                RegisterType::RuleType
            ])
            .unwrap(),
            Selection::from([ContentType::Actions, ContentType::Configs])
        );
        let refused = selection(&[RegisterType::RuleType, RegisterType::PolicyType]);
        assert!(refused.unwrap_err().0.contains("need no registering"));
    }
}
