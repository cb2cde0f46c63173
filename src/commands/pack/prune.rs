//! `st2 pack prune [--yes]`: what would be removed (kind, path, size, why), a question, then
//! the removal. With `-j`/`-y` and without `--yes` it only lists.

use std::io::{BufRead, IsTerminal};

use serde::Serialize;

use crate::commands::{Context, ExitStatus};
use crate::ops::packs::PruneItem;

#[derive(Serialize)]
struct Pruned<'a> {
    #[serde(flatten)]
    item: &'a PruneItem,
    removed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// Run the command.
pub(crate) fn run(yes: bool, context: &Context) -> anyhow::Result<ExitStatus> {
    let printer = &context.printer;
    let items = super::warned(context.backend().prune_plan(), context)?;
    if items.is_empty() {
        if printer.is_data() {
            printer.data(&items);
        } else {
            printer.info("Nothing to prune.");
        }
        return Ok(ExitStatus::Success);
    }
    let total: u64 = items.iter().map(|item| item.bytes).sum();
    let count = items.len();
    let what = if count == 1 {
        format!("item ({})", size(total))
    } else {
        format!("{count} items ({})", size(total))
    };
    if !printer.is_data() {
        let rows = items
            .iter()
            .map(|item| {
                vec![
                    item.kind.clone(),
                    item.path.display().to_string(),
                    size(item.bytes),
                    item.reason.clone(),
                ]
            })
            .collect();
        printer.table(&["kind", "path", "size", "why"], rows);
    }
    if !yes {
        if printer.is_data() {
            printer.data(&items);
            printer.hint("run with --yes to remove them");
            return Ok(ExitStatus::Success);
        }
        let these = if count == 1 { "this" } else { "these" };
        crate::output::prompt(&format!("Remove {these} {what}? [y/N] "));
        let mut answer = String::new();
        let stdin = std::io::stdin();
        let read = stdin.lock().read_line(&mut answer).unwrap_or(0);
        // An answer not typed at a terminal left the cursor on the prompt's line.
        if read == 0 || !stdin.is_terminal() {
            crate::output::prompt_line("");
        }
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            printer.info("Nothing was removed.");
            return Ok(ExitStatus::Success);
        }
    }
    let done = context.backend().prune(&items)?;
    let failed = done.iter().filter(|(_, outcome)| outcome.is_err()).count();
    if printer.is_data() {
        let report: Vec<Pruned> = done
            .iter()
            .map(|(item, outcome)| Pruned {
                item,
                removed: outcome.is_ok(),
                error: outcome.as_ref().err().map(String::as_str),
            })
            .collect();
        printer.data(&report);
    } else {
        for (item, outcome) in &done {
            if let Err(err) = outcome {
                printer.error(&format!("{}: {err}", item.path.display()));
            }
        }
        if failed == 0 {
            printer.info(&format!(
                "Removed {}{what}.",
                if count == 1 { "1 " } else { "" }
            ));
        } else {
            printer.info(&format!("Removed {} of {count} items.", count - failed));
        }
    }
    Ok(if failed == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// A size for people: `512 B`, `1.5 KiB`, `12.3 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(super::size(512), "512 B");
        assert_eq!(super::size(1536), "1.5 KiB");
        assert_eq!(super::size(12 * 1024 * 1024 + 300 * 1024), "12.3 MiB");
    }
}
