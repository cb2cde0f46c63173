//! The one printer every command writes through.
//!
//! Data goes to stdout (tables, or JSON/YAML with `-j`/`-y`, so that it pipes cleanly);
//! progress, warnings and hints go to stderr. Colour is used only on a terminal and never
//! when `NO_COLOR` is set. A closed stdout (`st2 pack list | head -1`) is not an error.
//! Interactive prompts ([`prompt`]) are written here too: nothing else prints.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the printer: the one module that writes to stdout and stderr"
)]

use std::io::{IsTerminal, Write};

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

use crate::settings::env;

/// How data is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// Human tables.
    #[default]
    Table,
    /// `-j/--json`.
    Json,
    /// `-y/--yaml`.
    Yaml,
}

/// Writes command output.
#[derive(Debug, Clone)]
pub(crate) struct Printer {
    /// The data format.
    pub format: Format,
    color: bool,
    stderr_terminal: bool,
    /// The zone times are shown in (`[cli] timezone`, UTC by default).
    timezone: jiff::tz::TimeZone,
}

impl Printer {
    /// A printer for `format`, looking at the terminal and `NO_COLOR`.
    pub(crate) fn new(format: Format) -> Printer {
        let stderr_terminal = std::io::stderr().is_terminal();
        let color = stderr_terminal && std::env::var_os(env::NO_COLOR).is_none();
        Printer {
            format,
            color,
            stderr_terminal,
            timezone: jiff::tz::TimeZone::UTC,
        }
    }

    /// The same printer, showing times in `timezone`.
    pub(crate) fn with_timezone(mut self, timezone: jiff::tz::TimeZone) -> Printer {
        self.timezone = timezone;
        self
    }

    /// A time as people read it, in the printer's zone: `Tue, 20 Oct 2015 10:00:00 CEST`, as
    /// st2client's `format_isodate_for_user_timezone` writes it (`%a, %d %b %Y %H:%M:%S %Z`,
    /// the zone's abbreviation); empty for none, as it is for what is not a time.
    pub(crate) fn time(&self, timestamp: Option<&str>) -> String {
        human_time(timestamp, &self.timezone)
    }

    /// Whether what goes to stderr may be coloured: it is a terminal and `NO_COLOR` is unset.
    pub(crate) fn stderr_color(&self) -> bool {
        self.color
    }

    /// Whether stderr is a terminal (progress bars are drawn only then).
    pub(crate) fn stderr_is_terminal(&self) -> bool {
        self.stderr_terminal
    }

    /// Whether data is printed as JSON or YAML rather than for people.
    pub(crate) fn is_data(&self) -> bool {
        self.format != Format::Table
    }

    /// Print `value` as JSON or YAML according to the format (tables are the caller's job).
    pub(crate) fn data<T: Serialize + ?Sized>(&self, value: &T) {
        let value = serde_json::to_value(value).expect("output types serialize");
        let text = match self.format {
            Format::Yaml => crate::yaml::to_string(&value),
            Format::Json | Format::Table => {
                let mut text = serde_json::to_string_pretty(&value).expect("valid JSON");
                text.push('\n');
                text
            }
        };
        self.stdout(&text);
    }

    /// Write text to stdout as is; a closed pipe ends the output quietly.
    pub(crate) fn stdout(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        if let Err(err) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            if err.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }

    /// A line on stdout.
    pub(crate) fn line(&self, text: &str) {
        self.stdout(&format!("{text}\n"));
    }

    /// A table with a header row, StackStorm style (ASCII borders).
    pub(crate) fn table(&self, headers: &[&str], rows: Vec<Vec<String>>) {
        let mut table = new_table();
        table.set_header(headers.iter().copied());
        for row in rows {
            table.add_row(row);
        }
        self.line(&table.to_string());
    }

    /// A two-column `Property | Value` table, as `st2 pack get` prints one object.
    pub(crate) fn properties(&self, rows: Vec<(String, String)>) {
        let mut table = new_table();
        table.set_header(["Property", "Value"]);
        for (key, value) in rows {
            table.add_row([key, value]);
        }
        self.line(&table.to_string());
    }

    /// A message for people on stderr.
    pub(crate) fn info(&self, text: &str) {
        eprintln!("{text}");
    }

    /// `warning: ...` on stderr.
    pub(crate) fn warn(&self, text: &str) {
        eprintln!("{}: {text}", self.paint("warning", "33"));
    }

    /// `hint: ...` on stderr, on its own line.
    pub(crate) fn hint(&self, text: &str) {
        eprintln!("{}: {text}", self.paint("hint", "36"));
    }

    /// `error: ...` on stderr.
    pub(crate) fn error(&self, text: &str) {
        eprintln!("{}: {text}", self.paint("error", "31"));
    }

    /// Wrap `text` in an ANSI colour when colour is on.
    pub(crate) fn paint(&self, text: &str, code: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table.load_preset(presets::ASCII_FULL_CONDENSED);
    // Long cells (descriptions) wrap within the width st2client uses: $COLUMNS, else the
    // terminal's, else 150 columns (its DEFAULT_TERMINAL_SIZE_COLUMNS), so that a table piped
    // to a file stays readable. Wrapping never drops text.
    table
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(table_width());
    table
}

/// Columns tables are fitted to (at least 40).
fn table_width() -> u16 {
    let from_env = std::env::var(env::COLUMNS)
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok());
    let from_terminal = || {
        terminal_width()
            .filter(|_| std::io::stdout().is_terminal())
            .map(|(width, _)| width)
    };
    from_env
        .or_else(from_terminal)
        .unwrap_or(DEFAULT_COLUMNS)
        .max(40)
}

/// st2client's width when it cannot tell (`DEFAULT_TERMINAL_SIZE_COLUMNS`).
const DEFAULT_COLUMNS: u16 = 150;

fn terminal_width() -> Option<(u16, u16)> {
    crate::sys::terminal_size()
}

/// An interactive prompt on stderr, where the user types its answer (no newline; flushed).
pub(crate) fn prompt(text: &str) {
    eprint!("{text}");
    let _ = std::io::stderr().flush();
}

/// A line of an interactive dialogue on stderr (the newline after an answer that was not
/// typed at a terminal, "try again").
pub(crate) fn prompt_line(text: &str) {
    eprintln!("{text}");
}

/// [`Printer::time`] in `zone`.
fn human_time(timestamp: Option<&str>, zone: &jiff::tz::TimeZone) -> String {
    let Some(text) = timestamp else {
        return String::new();
    };
    match text.parse::<jiff::Timestamp>() {
        Ok(instant) => instant
            .to_zoned(zone.clone())
            .strftime("%a, %d %b %Y %H:%M:%S %Z")
            .to_string(),
        Err(_) => text.to_string(),
    }
}

/// Render a JSON value for a table cell: strings bare, lists comma-joined, the rest as JSON.
pub(crate) fn cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_st2client_prints_them_in_the_users_zone() {
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(
            human_time(Some("2026-11-25T10:00:00.123456Z"), &utc),
            "Wed, 25 Nov 2026 10:00:00 UTC"
        );
        assert_eq!(human_time(None, &utc), "");
        assert_eq!(human_time(Some("soon"), &utc), "soon");
        // st2client's test_util_date: summer time in Ljubljana, then winter time.
        let ljubljana = jiff::tz::TimeZone::get("Europe/Ljubljana").unwrap();
        assert_eq!(
            human_time(Some("2015-10-20T08:00:00Z"), &ljubljana),
            "Tue, 20 Oct 2015 10:00:00 CEST"
        );
        assert_eq!(
            human_time(Some("2015-12-20T08:00:00.000000Z"), &ljubljana),
            "Sun, 20 Dec 2015 09:00:00 CET"
        );
    }
}
