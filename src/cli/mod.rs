//! Command-line definitions (clap derive) for `st2` and `st2ctl`, and nothing else: no I/O
//! happens here. [`crate::commands`] turns these into work.

use std::path::PathBuf;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Options every command accepts, before or after the subcommand.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct GlobalArgs {
    /// Path to st2.conf (default: $ST2_CONF, else /etc/st2/st2.conf when it exists), also
    /// read as the CLI config (default: $ST2_CONFIG_FILE, else ~/.st2/config).
    #[arg(long, global = true, value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// StackStorm base directory, overriding `[system] base_path` ($ST2_BASE_PATH).
    #[arg(long, global = true, value_name = "DIR")]
    pub base_path: Option<PathBuf>,

    /// Print debug logs on stderr (in remote mode: the mode, where each setting came from,
    /// and every request; secrets masked).
    #[arg(long, global = true)]
    pub debug: bool,

    /// Print the settings (each CLI config option, its value and source, secrets masked; the
    /// mode and why) and exit 3, as st2client; needs no command.
    #[arg(long, global = true)]
    pub print_config: bool,

    /// Options that point `st2` at a StackStorm cluster.
    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Options of remote mode (`st2` against a StackStorm cluster's API), as st2client takes
/// them; each also has an `ST2_*` variable and a CLI config option.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Remote mode")]
pub(crate) struct RemoteArgs {
    /// Where to run: a cluster when an API URL or a credential is set anywhere, else this
    /// machine (auto); or always local, or always remote ($ST2_MODE).
    #[arg(long, global = true, value_name = "MODE", value_parser = ["auto", "local", "remote"])]
    pub mode: Option<String>,

    /// The cluster's base URL, http(s)://HOST, its ports derived ($ST2_BASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,

    /// The API URL, e.g. https://HOST/api/v1 ($ST2_API_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,

    /// The auth URL, e.g. https://HOST/auth/v1 ($ST2_AUTH_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub auth_url: Option<String>,

    /// The stream URL, e.g. https://HOST/stream/v1 ($ST2_STREAM_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub stream_url: Option<String>,

    /// The API version in derived URLs (default v1; $ST2_API_VERSION).
    #[arg(long, global = true, value_name = "VERSION")]
    pub api_version: Option<String>,

    /// CA bundle the cluster's certificate is checked with; `false` turns checks off
    /// ($ST2_CACERT).
    #[arg(long, global = true, value_name = "PATH")]
    pub cacert: Option<String>,

    /// HTTP Basic credentials for a proxy in front of the API.
    #[arg(long, global = true, value_name = "USER:PASSWORD")]
    pub basic_auth: Option<String>,

    /// An auth token ($ST2_AUTH_TOKEN).
    #[arg(short = 't', long, global = true, value_name = "TOKEN")]
    pub token: Option<String>,

    /// An API key ($ST2_API_KEY).
    #[arg(long, global = true, value_name = "KEY")]
    pub api_key: Option<String>,

    /// Do not read the CLI config file ($ST2_CLI_SKIP_CONFIG=1).
    #[arg(long, global = true)]
    pub skip_config: bool,

    /// Seconds each request may take (default 60; $ST2_HTTP_TIMEOUT).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub http_timeout: Option<String>,
}

/// How to print results.
#[derive(Debug, Clone, Copy, Default, Args)]
#[command(next_help_heading = "Global options")]
pub(crate) struct OutputArgs {
    /// Print the result as JSON.
    #[arg(short = 'j', long, global = true, conflicts_with = "yaml")]
    pub json: bool,

    /// Print the result as YAML.
    #[arg(short = 'y', long, global = true)]
    pub yaml: bool,
}

/// StackStorm's command line, running locally: no server needed.
#[derive(Debug, Parser)]
#[command(
    name = "st2",
    version,
    about = "StackStorm-compatible pack manager and action runner",
    long_about = "StackStorm-compatible pack manager and action runner.\n\n\
                  Installs Exchange packs into the StackStorm directory layout and keeps what \
                  StackStorm's database would hold in one local SQLite file.",
    propagate_version = true
)]
pub(crate) struct St2Cli {
    /// Options of every command.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,

    /// The subcommand.
    #[command(subcommand)]
    pub command: St2Command,
}

/// `st2` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum St2Command {
    /// Install, list, search and remove packs.
    #[command(subcommand)]
    Pack(PackCommand),

    /// Register content of installed packs (same as `st2ctl reload`).
    Reload(ReloadArgs),

    /// Datastore items: `{{ st2kv.system.NAME }}` in configs and parameters.
    #[command(subcommand)]
    Key(KeyCommand),

    /// Run an action and show its execution: `st2 run core.local cmd=date`.
    #[command(long_about = RUN_LONG_ABOUT)]
    Run(RunArgs),

    /// Registered actions (and the built-in core pack).
    #[command(subcommand)]
    Action(ActionCommand),

    /// Recorded executions of actions.
    #[command(subcommand)]
    Execution(ExecutionCommand),

    /// Log in to a StackStorm cluster: get a token, cache it, and name the user in the CLI
    /// config.
    Login(LoginArgs),

    /// Get an auth token from a StackStorm cluster and print it.
    Auth(AuthArgs),

    /// Who the cluster says you are.
    Whoami,

    /// Print a shell completion script.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Print a manual page (roff): `st2 man st2-pack-install | man -l -`.
    Man {
        /// The page: st2, st2ctl, or a command's page such as st2-pack-install.
        #[arg(default_value = "st2", value_name = "PAGE")]
        page: String,
        /// Write every page (st2.1, st2-pack.1, ..., st2ctl.1) into this directory instead.
        #[arg(long, value_name = "DIR", conflicts_with = "page")]
        output_dir: Option<PathBuf>,
    },
}

/// `st2 login USER`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LoginArgs {
    /// The user.
    pub username: String,
    /// The password (asked for when left out).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Seconds the token lives (default: the cluster's).
    #[arg(short = 'l', long, value_name = "SECONDS")]
    pub ttl: Option<u64>,
    /// Also write the password into the CLI config (in clear).
    #[arg(short = 'w', long)]
    pub write_password: bool,
}

/// `st2 auth USER`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AuthArgs {
    /// The user.
    pub username: String,
    /// The password (asked for when left out).
    #[arg(short, long)]
    pub password: Option<String>,
    /// Seconds the token lives (default: the cluster's).
    #[arg(short = 'l', long, value_name = "SECONDS")]
    pub ttl: Option<u64>,
    /// Print only the token (`st2 auth USER -t`, as st2client reads it).
    #[arg(long)]
    pub only_token: bool,
}

/// Options before the command that take a value in the next word.
const GLOBAL_OPTIONS_WITH_VALUE: &[&str] = &[
    "--config-file",
    "--base-path",
    "--mode",
    "--url",
    "--api-url",
    "--auth-url",
    "--stream-url",
    "--api-version",
    "--cacert",
    "--basic-auth",
    "-t",
    "--token",
    "--api-key",
    "--http-timeout",
];

/// st2client's `st2 auth USER -t` means `--only-token`, where every other command's `-t` is
/// the token: the words of an `auth` command line with that `-t` spelled out, before clap
/// reads them (one global `-t` cannot mean both).
pub(crate) fn st2_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut words = args.into_iter();
    let mut out: Vec<std::ffi::OsString> = words.next().into_iter().collect();
    let mut in_auth = false;
    let mut expect_value = false;
    let mut command_seen = false;
    for word in words {
        let text = word.to_str().unwrap_or_default();
        if in_auth && text == "-t" {
            out.push("--only-token".into());
            continue;
        }
        if text == "--" {
            in_auth = false;
            command_seen = true;
        } else if !command_seen {
            if expect_value {
                expect_value = false;
            } else if text.starts_with('-') {
                expect_value = GLOBAL_OPTIONS_WITH_VALUE.contains(&text);
            } else {
                command_seen = true;
                in_auth = text == "auth";
            }
        }
        out.push(word);
    }
    out
}

/// Shells completions can be generated for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    /// GNU Bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// `st2 pack ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum PackCommand {
    /// Install packs from the Exchange index, a git URL or a local directory.
    #[command(
        long_about = "Install packs from the Exchange index, a git URL or a local \
        directory.\n\nPACK is one of:\n  \
        NAME[=VERSION]        a pack of the Exchange index (highest version by default)\n  \
        URL[=REF]             a git repository: https://, ssh://, git@host:path, file://\n  \
        PATH[=REF]            a local git repository or plain directory (./, ../ or absolute)\n  \
        OWNER/REPO[=REF]      shorthand for https://github.com/OWNER/REPO\n\
        REF is a branch, a tag, a commit SHA, or a version (1.2.0 matches the tag v1.2.0)."
    )]
    Install(InstallArgs),

    /// List installed packs.
    List,

    /// Show an installed pack.
    Get {
        /// The pack ref.
        #[arg(value_name = "REF")]
        pack_ref: String,
    },

    /// Show a pack's entry in the index.
    Show {
        /// The pack name.
        name: String,
    },

    /// Search the index by name, keywords and description.
    Search {
        /// Text to look for (case-insensitive).
        query: String,
    },

    /// Remove installed packs: their directory, virtualenv and everything registered.
    #[command(visible_alias = "uninstall")]
    Remove {
        /// Pack refs.
        #[arg(required = true, value_name = "REF")]
        packs: Vec<String>,
    },

    /// Register installed packs (all when none is named): all content types and configs,
    /// or the types given with `--types`.
    Register {
        /// Pack refs or pack directories.
        #[arg(value_name = "REF|PATH")]
        packs: Vec<String>,
        /// Content types to register, StackStorm's names (every type when not given).
        #[arg(long, num_args = 1.., value_name = "TYPE")]
        types: Vec<RegisterType>,
    },

    /// Write a pack's config interactively from its config schema, then register it
    /// (`st2 pack config show PACK` prints the registered one).
    Config(ConfigArgs),

    /// Show installed packs with newer versions: installed, newest, newest compatible with the
    /// other packs' dependencies.
    Outdated {
        /// Pack refs (default: every installed pack).
        #[arg(value_name = "REF")]
        packs: Vec<String>,
        /// Use only the caches (index copies, git repositories).
        #[arg(long)]
        offline: bool,
    },

    /// Update packs to the newest compatible version (all or none), updating packs.lock.
    Update(UpdateArgs),

    /// Check installed packs against packs.lock: files against the commit they came from,
    /// virtualenvs against the locked Python packages. Exits 1 on any difference.
    Verify {
        /// Pack refs (default: every locked or installed pack).
        #[arg(value_name = "REF")]
        packs: Vec<String>,
    },

    /// Remove virtualenvs, configs and cached repositories of packs that are not installed,
    /// and leftovers of killed commands (shows them and asks first).
    Prune {
        /// Remove without asking.
        #[arg(long)]
        yes: bool,
    },
}

/// `st2 pack update` options.
#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// Packs to update (pinned ones too: installed as NAME=VERSION, URL=TAG, URL=COMMIT).
    #[arg(
        value_name = "REF",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub packs: Vec<String>,

    /// Every installed pack that is not pinned.
    #[arg(long)]
    pub all: bool,

    /// Use only the caches.
    #[arg(long)]
    pub offline: bool,

    /// Do not create the pack virtualenvs now.
    #[arg(long)]
    pub skip_virtualenv: bool,
}

/// `st2 pack config` options.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct ConfigArgs {
    /// The pack.
    #[arg(value_name = "PACK", required = true)]
    pub pack: Option<String>,

    /// Take existing values and schema defaults without asking (for scripts).
    #[arg(long)]
    pub yes: bool,

    /// Show instead of write.
    #[command(subcommand)]
    pub show: Option<ConfigCommand>,
}

/// `st2 pack config show`.
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print a pack's registered config, secrets masked.
    Show {
        /// The pack.
        #[arg(value_name = "PACK")]
        pack: String,
        /// Print what an action gets: templates rendered from the datastore and schema
        /// defaults filled in (secrets still masked).
        #[arg(long)]
        resolved: bool,
    },
}

/// A content type of `st2 pack register --types`, as StackStorm's API names them
/// (`PacksContentRegisterType`: singular or plural).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RegisterType {
    /// Every type.
    All,
    /// Runner types.
    #[value(alias = "runners")]
    Runner,
    /// `actions/`.
    #[value(alias = "actions")]
    Action,
    /// `triggers/`.
    #[value(alias = "triggers")]
    Trigger,
    /// `sensors/`.
    #[value(alias = "sensors")]
    Sensor,
    /// `rules/`.
    #[value(alias = "rules")]
    Rule,
    /// Rule types (built in).
    #[value(name = "rule_type", alias = "rule_types")]
    RuleType,
    /// `aliases/`.
    #[value(alias = "aliases")]
    Alias,
    /// Policy types (built in).
    #[value(name = "policy_type", alias = "policy_types")]
    PolicyType,
    /// `policies/`.
    #[value(alias = "policies")]
    Policy,
    /// Pack configs.
    #[value(alias = "configs")]
    Config,
}

/// Datastore scope as `st2 key` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScopeArg {
    /// `st2kv.system`.
    #[value(alias = "st2kv.system")]
    System,
    /// `st2kv.user`.
    #[value(alias = "st2kv.user")]
    User,
    /// Both (listing only).
    All,
}

/// `--scope` and `--user` of `st2 key` commands.
#[derive(Debug, Clone, Args)]
pub(crate) struct KeyScopeArgs {
    /// Scope of the item.
    #[arg(short, long, value_enum, default_value = "system")]
    pub scope: ScopeArg,

    /// User of a user-scope item (default: [system_user] user; on a cluster, yourself).
    #[arg(short, long)]
    pub user: Option<String>,
}

/// `st2 key ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// List items.
    List {
        /// Only items whose name starts with this.
        #[arg(short, long, default_value = "")]
        prefix: String,
        /// Show secrets decrypted.
        #[arg(short, long)]
        decrypt: bool,
        /// Scope (default: all).
        #[arg(short, long, value_enum, default_value = "all")]
        scope: ScopeArg,
        /// User of user-scope items (default: [system_user] user; on a cluster, yourself).
        #[arg(short, long)]
        user: Option<String>,
        /// Show at most this many items; -1: all of them (on a cluster, fetched 100 at a
        /// time).
        #[arg(short = 'n', long, value_parser = last_count, allow_negative_numbers = true)]
        last: Option<usize>,
    },
    /// Show one item.
    Get {
        /// Item name.
        name: String,
        /// Show a secret decrypted.
        #[arg(short, long)]
        decrypt: bool,
        /// Scope and user.
        #[command(flatten)]
        scope: KeyScopeArgs,
    },
    /// Create or update an item.
    Set {
        /// Item name.
        name: String,
        /// Value (prompted for when left out).
        value: Option<String>,
        /// Encrypt the value (a secret).
        #[arg(short, long)]
        encrypt: bool,
        /// The value is already encrypted with the datastore key.
        #[arg(long, conflicts_with = "encrypt")]
        encrypted: bool,
        /// Seconds until the item expires.
        #[arg(short = 'l', long)]
        ttl: Option<u64>,
        /// Scope and user.
        #[command(flatten)]
        scope: KeyScopeArgs,
    },
    /// Delete an item.
    Delete {
        /// Item name.
        name: String,
        /// Scope and user.
        #[command(flatten)]
        scope: KeyScopeArgs,
    },
    /// Delete every item whose name starts with a prefix.
    #[command(name = "delete_by_prefix", visible_alias = "delete-by-prefix")]
    DeleteByPrefix {
        /// The prefix.
        #[arg(short, long)]
        prefix: String,
        /// Scope and user.
        #[command(flatten)]
        scope: KeyScopeArgs,
    },
    /// Load items from a JSON or YAML file (one object or a list).
    Load {
        /// The file.
        file: PathBuf,
        /// Store non-string values as their JSON text.
        #[arg(short, long)]
        convert: bool,
    },
}

/// `st2 pack install` options.
#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Packs to install (with --locked: refs in packs.lock; none means all of them).
    #[arg(required_unless_present = "locked", value_name = "PACK")]
    pub packs: Vec<String>,

    /// Install exactly what <base_path>/packs.lock lists (the packs named, or all), at the
    /// locked commits with the locked Python packages, or fail changing nothing.
    #[arg(long)]
    pub locked: bool,

    /// Use only the caches (index copies, git repositories, Python packages); say what is
    /// missing from them.
    #[arg(long)]
    pub offline: bool,

    /// Install even if the pack declares another StackStorm or Python version.
    #[arg(long)]
    pub force: bool,

    /// Do not install the packs' dependencies.
    #[arg(long)]
    pub skip_dependencies: bool,

    /// Do not create the pack virtualenvs now (`st2ctl reload --register-setup-virtualenvs`
    /// creates them later).
    #[arg(long)]
    pub skip_virtualenv: bool,
}

/// `st2ctl reload` options. With no content flag it registers what StackStorm does by
/// default: triggers, sensors, runners, actions, rules, aliases and configs (not policies).
#[derive(Debug, Default, Args)]
pub(crate) struct ReloadArgs {
    /// Register all content types: triggers, sensors, runners, actions, rules, aliases,
    /// policies and configs.
    #[arg(long)]
    pub register_all: bool,

    /// Register triggers.
    #[arg(long)]
    pub register_triggers: bool,

    /// Register sensors.
    #[arg(long)]
    pub register_sensors: bool,

    /// Register runners.
    #[arg(long)]
    pub register_runners: bool,

    /// Register actions (and runners).
    #[arg(long)]
    pub register_actions: bool,

    /// Register rules.
    #[arg(long)]
    pub register_rules: bool,

    /// Register aliases.
    #[arg(long)]
    pub register_aliases: bool,

    /// Register policies.
    #[arg(long)]
    pub register_policies: bool,

    /// Register packs and config schemas, then validate and register the pack configs in
    /// <base_path>/configs/.
    #[arg(long)]
    pub register_configs: bool,

    /// Create or update the virtualenv of each pack that runs Python.
    #[arg(long)]
    pub register_setup_virtualenvs: bool,

    /// Delete and recreate the virtualenv of each pack that runs Python.
    #[arg(long, conflicts_with = "register_setup_virtualenvs")]
    pub register_recreate_virtualenvs: bool,

    /// Log failures and carry on; exit 0 even if some content failed to register.
    #[arg(long)]
    pub register_no_fail_on_failure: bool,

    /// Exit with status 1 when anything failed to register (the default).
    #[arg(long, conflicts_with = "register_no_fail_on_failure")]
    pub register_fail_on_failure: bool,

    /// More output.
    #[arg(short, long)]
    pub verbose: bool,
}

/// StackStorm's control script; here it manages local content only.
#[derive(Debug, Parser)]
#[command(
    name = "st2ctl",
    version,
    about = "Register StackStorm content (st2ctl-compatible)",
    propagate_version = true
)]
pub(crate) struct St2ctlCli {
    /// Options of every command.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,

    /// The subcommand.
    #[command(subcommand)]
    pub command: St2ctlCommand,
}

/// `st2ctl` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum St2ctlCommand {
    /// Register the content of every pack in the pack directories.
    Reload(ReloadArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definitions_are_consistent() {
        St2Cli::command().debug_assert();
        St2ctlCli::command().debug_assert();
    }

    #[test]
    fn auth_t_is_only_token_and_every_other_t_a_token() {
        let parse = |words: &[&str]| {
            let words = st2_args(words.iter().map(Into::into).collect());
            St2Cli::try_parse_from(words).unwrap()
        };
        let cli = parse(&[
            "st2",
            "--api-url",
            "http://h/api/v1",
            "auth",
            "me",
            "-p",
            "pw",
            "-t",
        ]);
        match cli.command {
            St2Command::Auth(args) => assert!(args.only_token),
            other => panic!("{other:?}"),
        }
        assert_eq!(cli.global.remote.token, None);
        let cli = parse(&["st2", "-t", "auth", "action", "list"]);
        assert_eq!(cli.global.remote.token.as_deref(), Some("auth"));
        let cli = parse(&["st2", "action", "list", "-t", "T"]);
        assert_eq!(cli.global.remote.token.as_deref(), Some("T"));
        let cli = parse(&["st2", "run", "core.local", "--", "auth", "-t"]);
        match cli.command {
            St2Command::Run(args) => assert_eq!(args.parameters, ["auth", "-t"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn output_flags_work_before_and_after_the_subcommand() {
        let cli = St2Cli::try_parse_from(["st2", "pack", "list", "-j"]).unwrap();
        assert!(cli.output.json);
        let cli = St2Cli::try_parse_from(["st2", "-y", "pack", "list"]).unwrap();
        assert!(cli.output.yaml);
        assert!(St2Cli::try_parse_from(["st2", "pack", "list", "-j", "-y"]).is_err());
    }
}

/// The long help of `st2 run` and `st2 action execute`.
const RUN_LONG_ABOUT: &str = "Run an action and show its execution.\n\n\
    Parameters are NAME=VALUE words, typed by the action's parameter schema: integers, \
    numbers, booleans (true/false/yes/no/1/0), arrays (a,b,c or JSON; a repeated name \
    appends), objects (JSON or k1=v1,k2=v2). @NAME=PATH reads the value from a file. The \
    first word without = starts the cmd parameter, and the words after it are joined to it: \
    `st2 run core.local echo hello`. Words that start with - are options wherever they \
    stand; after -- they are words of the command: `st2 run core.local -- ls -l`.\n\n\
    The action runs with this shell's environment. On a terminal its output is shown as it \
    comes; `st2 execution tail ID` follows it from another one.\n\n\
    Exits 0 when the execution succeeded, 1 when it failed, timed out or was canceled, 2 \
    when the parameters were refused (then nothing ran).";

/// `st2 run` / `st2 action execute`.
///
/// As st2client's argparse parser: a word that starts with `-` is an option wherever it
/// stands (an unknown one is an error, exit 2), a long option may be abbreviated, `--` ends
/// the options, and `-h` is this command's own (it prints the action's parameters).
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true, infer_long_args = true)]
pub(crate) struct RunArgs {
    /// The action: PACK.ACTION.
    #[arg(value_name = "ACTION", required_unless_present = "help")]
    pub action_ref: Option<String>,

    /// Parameters: NAME=VALUE, @NAME=FILE, or a command (after -- when it has options).
    #[arg(value_name = "PARAMETERS", allow_negative_numbers = true)]
    pub parameters: Vec<String>,

    /// Print the action's description and parameters (without ACTION: this help).
    #[arg(short = 'h', long = "help")]
    pub help: bool,

    /// Do not wait: print the execution id and return (see `st2 execution get ID`).
    #[arg(short = 'a', long = "async")]
    pub run_async: bool,

    /// Show every field of the execution.
    #[arg(short = 'd', long)]
    pub detail: bool,

    /// Print only this key of the result (dots for nested keys: -k result.id).
    #[arg(short = 'k', long, value_name = "KEY")]
    pub key: Option<String>,

    /// Show the action's output as it comes, also when stdout is not a terminal.
    #[arg(long, conflicts_with = "run_async")]
    pub tail: bool,

    /// Also pass this shell's environment as the `env` parameter, recorded with the
    /// execution (values of variables named like secrets masked).
    #[arg(short = 'e', long)]
    pub inherit_env: bool,

    /// Turn array items `k:v` into objects: items=a:1,b:2 is [{"a": "1", "b": "2"}].
    #[arg(long)]
    pub auto_dict: bool,

    /// Run the pack's own code even when st2-rs has a native implementation of the action
    /// (e.g. twitter.update_status); see [actionrunner] native_actions.
    #[arg(long)]
    pub no_native: bool,
}

/// `st2 action ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ActionCommand {
    /// List actions.
    List {
        /// Only the actions of this pack.
        #[arg(short = 'p', long)]
        pack: Option<String>,
    },
    /// Show an action: runner, entry point, and its parameters merged with the runner's.
    Get {
        /// The action: PACK.ACTION.
        #[arg(value_name = "ACTION")]
        action_ref: String,
    },
    /// Run an action (same as `st2 run`).
    #[command(long_about = RUN_LONG_ABOUT)]
    Execute(RunArgs),
}

/// `-n N` of `key list` and `execution list`: a count, or `-1` for all of them (st2client's
/// "Use -n -1 to fetch the full result set").
fn last_count(text: &str) -> Result<usize, String> {
    match text.trim() {
        "-1" => Ok(usize::MAX),
        count => count
            .parse::<usize>()
            .map_err(|_| format!("{text:?} is not a number of items (or -1 for all of them)")),
    }
}

/// The status words `--status` takes: the store's, so that a typo is a usage error.
fn execution_statuses() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        crate::store::ExecutionStatus::ALL.map(|status| status.as_str()),
    )
}

/// `st2 execution ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ExecutionCommand {
    /// List executions, newest first (-s asc: oldest).
    List {
        /// How many to show; -1: all of them (on a cluster, fetched 100 at a time).
        #[arg(
            short = 'n',
            long = "last",
            default_value = "50",
            value_name = "N",
            value_parser = last_count,
            allow_negative_numbers = true
        )]
        last: usize,
        /// Only executions of this action.
        #[arg(long = "action", value_name = "ACTION")]
        action_ref: Option<String>,
        /// Only executions with this status.
        #[arg(long, value_parser = execution_statuses())]
        status: Option<String>,
        /// The newest first (desc, the default) or the oldest (asc), as st2client's `-s`.
        #[arg(short = 's', long, value_name = "ORDER", value_parser = ["asc", "desc"], default_value = "desc")]
        sort: String,
        /// Include the child executions of workflows (by default only top-level ones).
        #[arg(short = 'l', long)]
        showall: bool,
    },
    /// Show an execution.
    Get {
        /// The execution id.
        id: String,
        /// Show every field.
        #[arg(short = 'd', long)]
        detail: bool,
        /// Print only this key of the result.
        #[arg(short = 'k', long, value_name = "KEY")]
        key: Option<String>,
        /// Levels of a workflow's children to list (-1: all).
        #[arg(long, value_name = "N", default_value_t = -1, allow_negative_numbers = true)]
        depth: i64,
        /// Leave out a workflow's children table.
        #[arg(long)]
        raw: bool,
        /// Accepted as st2client accepts it: a workflow's children are always shown.
        #[arg(long)]
        show_tasks: bool,
    },
    /// Cancel running executions (their processes are killed).
    Cancel {
        /// Execution ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Print an execution's output as it comes, until it ends (a finished one: all of its
    /// output).
    Tail {
        /// The execution id; `last` is the newest execution.
        #[arg(default_value = "last")]
        id: String,
        /// Only this output stream.
        #[arg(long = "type", value_name = "TYPE", value_parser = ["stdout", "stderr"])]
        output_type: Option<String>,
        /// Prefix each piece of output with its time and stream.
        #[arg(long)]
        include_metadata: bool,
    },
    /// Run an execution recorded by `st2 run -a` (internal: started by st2 itself).
    #[command(hide = true)]
    Worker {
        /// The execution id.
        id: String,
    },
    /// Run an execution's action again with its parameters (NAME=VALUE words replace some).
    #[command(name = "re-run", long_about = RERUN_LONG_ABOUT)]
    ReRun(ReRunArgs),
}

const RERUN_LONG_ABOUT: &str = "Run an execution's action again, with its parameters, and \
    show the new execution as `st2 run` does.\n\n\
    NAME=VALUE words replace some of the parameters; they are read against the action's \
    parameters as `st2 run` reads them. --tasks re-runs tasks of a failed orquesta workflow \
    (on a StackStorm cluster; it cannot be combined with parameters), all of a with-items \
    task's items unless the task is also named in --no-reset; both take the words after \
    them, so NAME=VALUE words go first. --delay MS keeps the new execution `delayed` that \
    long before it starts.\n\n\
    Exits 0 when the new execution succeeded, 1 when it failed, timed out or was canceled, 2 \
    when the re-run was refused (then nothing ran).";

/// `st2 execution re-run ID [PARAMETERS] [--tasks T...] [--no-reset T...] [--delay MS]`, with
/// st2client's options (`ActionExecutionReRunCommand`: those of `st2 run` that it takes).
#[derive(Debug, Clone, Args)]
pub(crate) struct ReRunArgs {
    /// The execution to run again.
    pub id: String,

    /// Parameters that replace the original's: NAME=VALUE, @NAME=FILE.
    #[arg(value_name = "PARAMETERS", allow_negative_numbers = true)]
    pub parameters: Vec<String>,

    /// Names of the workflow tasks to run again (orquesta).
    #[arg(long, num_args = 0.., value_name = "TASK")]
    pub tasks: Vec<String>,

    /// With-items tasks among --tasks whose succeeded items are not run again (orquesta).
    #[arg(long = "no-reset", num_args = 0.., value_name = "TASK")]
    pub no_reset: Vec<String>,

    /// Milliseconds the new execution waits (`delayed`) before it is scheduled.
    #[arg(long, value_name = "MS")]
    pub delay: Option<u64>,

    /// Do not wait: print the new execution's id and return.
    #[arg(short = 'a', long = "async")]
    pub run_async: bool,

    /// Show every field of the execution.
    #[arg(short = 'd', long)]
    pub detail: bool,

    /// Print only this key of the result (dots for nested keys).
    #[arg(short = 'k', long, value_name = "KEY")]
    pub key: Option<String>,

    /// Show the action's output as it comes, also when stdout is not a terminal.
    #[arg(long, conflicts_with = "run_async")]
    pub tail: bool,

    /// Also pass this shell's environment as the `env` parameter.
    #[arg(short = 'e', long)]
    pub inherit_env: bool,

    /// Turn array items `k:v` into objects: items=a:1,b:2 is [{"a": "1", "b": "2"}].
    #[arg(long)]
    pub auto_dict: bool,
}

/// The command line of `st2` parsed with the least clap has to build: clap derive makes the
/// whole command tree (every subcommand, argument and help text) before it reads a word,
/// which was most of what `st2 --version` did and a sixth of a trivial `st2 run`. So:
///
/// - `st2 --version` (or `-V`) alone is answered from a command that knows only its version;
/// - `st2 ... run ...` is parsed by a command that has the global options and `run` only
///   (the same definitions, [`RunArgs`] and the global [`GlobalArgs`]/[`OutputArgs`]).
///
/// Anything else, and anything that command refuses or answers itself (help, an unknown
/// option, a missing action), is parsed by the whole tree, so that every message is the one
/// it gives. A line the small command accepts is one the whole tree parses the same way: the
/// `run` word decides the subcommand in both, and what follows is read by the same
/// definitions (a test compares them).
pub(crate) fn parse_st2() -> St2Cli {
    let mut args = st2_args(std::env::args_os().collect());
    print_config_without_command(&mut args);
    match args.get(1..).unwrap_or_default() {
        [flag] if flag == "--version" || flag == "-V" => version_only("st2")
            .try_get_matches_from(&args)
            .map(|_| ())
            .unwrap_or_else(|answer| answer.exit()),
        rest if subcommand_word(rest) == Some("run") => {
            if let Some(cli) = run_only()
                .try_get_matches_from(&args)
                .ok()
                .and_then(|matches| St2Cli::from_arg_matches(&matches).ok())
            {
                return cli;
            }
        }
        _ => {}
    }
    St2Cli::parse_from(args)
}

/// `st2 --print-config` needs no command (st2client's `shell.py` appends `action list` to
/// such a line, a command it never runs): the same here, so that the tree parses it.
fn print_config_without_command(args: &mut Vec<std::ffi::OsString>) {
    let rest = args.get(1..).unwrap_or_default();
    if rest.iter().any(|arg| arg == "--print-config") && subcommand_word(rest).is_none() {
        args.extend(["action".into(), "list".into()]);
    }
}

/// `st2ctl --version` as [`parse_st2`] answers `st2 --version`; the rest by the whole tree.
pub(crate) fn parse_st2ctl() -> St2ctlCli {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let [flag] = args.get(1..).unwrap_or_default() {
        if flag == "--version" || flag == "-V" {
            let answer = version_only("st2ctl").try_get_matches_from(&args);
            answer.map(|_| ()).unwrap_or_else(|answer| answer.exit());
        }
    }
    St2ctlCli::parse_from(args)
}

/// A command that knows its name and version, as the derived ones print them.
fn version_only(name: &'static str) -> clap::Command {
    clap::Command::new(name).version(env!("CARGO_PKG_VERSION"))
}

/// `st2` with the global options and the `run` subcommand only.
fn run_only() -> clap::Command {
    let command = version_only("st2").subcommand_required(true);
    let command = OutputArgs::augment_args(GlobalArgs::augment_args(command));
    command.subcommand(RunArgs::augment_args(clap::Command::new("run")))
}

/// The first word that is neither a global option nor its value: the subcommand, as far as
/// the global options tell (a wrong guess only means the whole tree parses the line).
fn subcommand_word(args: &[std::ffi::OsString]) -> Option<&str> {
    let mut words = args.iter().map(|arg| arg.to_str());
    while let Some(word) = words.next() {
        match word? {
            "--" => return None,
            option if GLOBAL_OPTIONS_WITH_VALUE.contains(&option) => {
                words.next()?;
            }
            option if option.starts_with('-') => {}
            word => return Some(word),
        }
    }
    None
}

#[cfg(test)]
mod fast_parse_tests {
    use super::*;
    use clap::CommandFactory;

    fn fast(args: &[&str]) -> Option<St2Cli> {
        let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        (subcommand_word(&args[1..]) == Some("run"))
            .then(|| run_only().try_get_matches_from(&args).ok())
            .flatten()
            .and_then(|matches| St2Cli::from_arg_matches(&matches).ok())
    }

    #[test]
    fn the_run_only_command_parses_as_the_whole_tree() {
        for args in [
            &["st2", "run", "core.local", "cmd=true"][..],
            &["st2", "--config-file", "run", "run", "core.noop", "-j"],
            &[
                "st2",
                "-y",
                "--base-path=/x",
                "run",
                "-a",
                "core.local",
                "--",
                "ls",
                "-l",
            ],
            &[
                "st2",
                "run",
                "core.local",
                "echo",
                "hello",
                "--debug",
                "-k",
                "result.stdout",
            ],
            &["st2", "run", "--tai", "core.local", "date"],
            &[
                "st2",
                "run",
                "-e",
                "--auto-dict",
                "--no-native",
                "x.y",
                "items=a:1",
                "-5",
            ],
            // `run`'s own -h (the action's parameters, or this help) is an argument.
            &["st2", "run", "--help"],
            &["st2", "run", "core.local", "-h"],
        ] {
            let whole = St2Cli::try_parse_from(args).unwrap();
            let fast = fast(args).unwrap_or_else(|| panic!("{args:?} took the slow path"));
            assert_eq!(format!("{fast:?}"), format!("{whole:?}"), "{args:?}");
        }
    }

    #[test]
    fn what_the_run_only_command_refuses_goes_to_the_whole_tree() {
        for args in [
            &["st2", "run"][..],
            &["st2", "run", "--version"],
            &["st2", "run", "core.local", "--nonsense"],
            &["st2", "pack", "list"],
            &["st2", "--help"],
        ] {
            assert!(fast(args).is_none(), "{args:?}");
        }
    }

    #[test]
    fn run_has_the_same_arguments_in_both() {
        let whole = St2Cli::command();
        let whole = whole.find_subcommand("run").unwrap();
        let small = run_only();
        let small = small.find_subcommand("run").unwrap();
        let describe = |command: &clap::Command| {
            let mut args: Vec<String> = command.get_arguments().map(|a| format!("{a:?}")).collect();
            args.sort();
            // (infer_long_args has no getter: `--tai` above checks it.)
            (args, command.is_disable_help_flag_set())
        };
        assert_eq!(describe(small), describe(whole));
        let globals = |command: &clap::Command| {
            let mut args: Vec<String> = command.get_arguments().map(|a| format!("{a:?}")).collect();
            args.sort();
            args
        };
        let (whole, small) = (St2Cli::command(), run_only());
        let mut expected = globals(&whole);
        expected.retain(|arg| !arg.contains("id: \"help\"") && !arg.contains("id: \"version\""));
        let mut got = globals(&small);
        got.retain(|arg| !arg.contains("id: \"help\"") && !arg.contains("id: \"version\""));
        assert_eq!(got, expected);
    }
}
