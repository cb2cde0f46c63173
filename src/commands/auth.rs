//! `st2 login`, `st2 auth` and `st2 whoami`: tokens from a StackStorm cluster
//! (`st2client/commands/auth.py`; `../shared/spec/remote-api.md` §1.6).
//!
//! Where we differ on purpose: `login`'s note gives the token's real expiry (st2client says
//! "in 24 hours" whatever the cluster's TTL), and goes to stderr; `whoami` exits 1 when it
//! cannot say who you are (st2client prints "Not authenticated" and exits 0).

use std::io::{BufRead, IsTerminal};

use anyhow::Context as _;
use serde_json::json;

use super::{Context, ExitStatus, UsageError};
use crate::cli::{AuthArgs, LoginArgs};
use crate::ops::auth::TokenRequest;

/// The password given with `-p`, else asked for (hidden on a terminal, a line of stdin
/// otherwise).
fn password(given: Option<&str>) -> anyhow::Result<String> {
    if let Some(password) = given {
        return Ok(password.to_string());
    }
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Password: ").context("cannot read the password");
    }
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    if read == 0 {
        return Err(UsageError(
            "no password was given: pass it with -p PASSWORD, or on standard input".into(),
        )
        .into());
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `st2 auth USER [-p PW] [-l TTL] [-t]`.
pub(crate) fn auth(args: &AuthArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let request = TokenRequest {
        username: args.username.clone(),
        password: password(args.password.as_deref())?,
        ttl: args.ttl,
    };
    let token = context.backend().create_token(&request)?;
    if args.only_token {
        context.printer.line(&token.token);
    } else if context.printer.is_data() {
        context
            .printer
            .data(&json!({"user": token.user, "token": token.token, "expiry": token.expiry}));
    } else {
        context.printer.properties(vec![
            ("user".into(), token.user),
            ("token".into(), token.token),
            ("expiry".into(), token.expiry),
        ]);
    }
    Ok(ExitStatus::Success)
}

/// `st2 login USER [-p PW] [-l TTL] [-w]`.
pub(crate) fn login(args: &LoginArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let request = TokenRequest {
        username: args.username.clone(),
        password: password(args.password.as_deref())?,
        ttl: args.ttl,
    };
    let outcome = context
        .backend()
        .login(&request, args.write_password)
        .with_context(|| format!("Failed to log in as {}", args.username))?;
    for warning in &outcome.warnings {
        context.printer.warn(warning);
    }
    if context.printer.is_data() {
        context.printer.data(&json!({
            "user": outcome.token.user,
            "expiry": outcome.token.expiry,
            "config_file": outcome.config_file,
        }));
    } else {
        context
            .printer
            .line(&format!("Logged in as {}", args.username));
    }
    if !args.write_password {
        context.printer.hint(&format!(
            "the password was not written to {}: log in again when the token expires \
             ({}), or use --write-password to keep it there in plain text",
            outcome.config_file.display(),
            outcome.token.expiry
        ));
    }
    Ok(ExitStatus::Success)
}

/// `st2 whoami`.
pub(crate) fn whoami(context: &Context) -> anyhow::Result<ExitStatus> {
    let who = context.backend().whoami()?;
    if context.printer.is_data() {
        context.printer.data(&json!({
            "username": who.username,
            "authentication": {"method": who.method, "token_expire": who.token_expire},
            "rbac": {"enabled": who.rbac_enabled, "roles": who.roles},
        }));
        return Ok(ExitStatus::Success);
    }
    let mut text = format!(
        "Currently logged in as \"{}\".\n\nAuthentication method: {}\n",
        who.username, who.method
    );
    if let Some(expire) = &who.token_expire {
        text.push_str(&format!("Authentication token expire time: {expire}\n"));
    }
    text.push_str(&format!(
        "\nRBAC:\n - Enabled: {}\n - Roles: {}\n",
        if who.rbac_enabled { "True" } else { "False" },
        who.roles.join(", ")
    ));
    context.printer.stdout(&text);
    Ok(ExitStatus::Success)
}
