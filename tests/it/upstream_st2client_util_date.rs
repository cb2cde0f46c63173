//! Port of StackStorm 3.9.0's `st2client/tests/unit/test_util_date.py` (tag `v3.9.0`): how
//! times are shown (`format_dt`, `format_isodate`, `format_isodate_for_user_timezone`: `%a,
//! %d %b %Y %H:%M:%S %Z`, in the zone `[cli] timezone` names, UTC by default).
//!
//! Upstream calls the functions with a time and a zone; here `st2 execution get` and `st2
//! execution list` show the times of an execution that started at upstream's
//! `2015-10-20T08:00:00Z` (on the stand-in cluster, [`St2Server`](crate::st2server::St2Server)),
//! with the zone given in the CLI config as a user gives it (upstream mocks `get_config`).
//!
//! Ours, beyond upstream: local mode shows its times in the same zone (a StackStorm user with
//! `~/.st2/config` reads times one way whichever backend answers), and an unknown zone is one
//! error line naming the option (upstream: pytz's `UnknownTimeZoneError` traceback when the
//! first time is shown).

use serde_json::json;

use crate::common::*;
use crate::remote::{assert_exit, show, text, Auth, Cluster};
use crate::st2server::*;

const ID: &str = "65f0c0ffee0000000000ad01";

/// The stand-in with an execution that ran from 08:00:00 to 08:00:01 UTC on 2015-10-20, and
/// `config` as the CLI config.
fn cluster(config: &str) -> Option<Cluster> {
    let cluster = Cluster::start()?;
    cluster.server.world(|world| {
        let mut execution = execution(ID, "succeeded", json!({"cmd": "date"}));
        execution["start_timestamp"] = json!("2015-10-20T08:00:00.000000Z");
        execution["end_timestamp"] = json!("2015-10-20T08:00:01.000000Z");
        world.executions.insert(ID.into(), execution);
    });
    std::fs::create_dir_all(cluster.config_path().parent().unwrap()).unwrap();
    std::fs::write(cluster.config_path(), config).unwrap();
    Some(cluster)
}

/// `st2 execution get ID`'s `start_timestamp:` line, and `st2 execution list`'s row.
fn shown(cluster: &Cluster) -> (String, String) {
    let get = cluster.st2(Auth::Token, &["execution", "get", ID]);
    assert_exit(&get, 0);
    let line = text(&get.stdout)
        .lines()
        .find(|line| line.starts_with("start_timestamp: "))
        .unwrap_or_else(|| panic!("{}", show(&get)))
        .to_string();
    let list = cluster.st2(Auth::Token, &["execution", "list"]);
    assert_exit(&list, 0);
    let row = text(&list.stdout)
        .lines()
        .find(|line| line.contains(ID))
        .unwrap_or_else(|| panic!("{}", show(&list)))
        .to_string();
    (line, row)
}

#[test]
fn test_format_dt() {
    let Some(cluster) = cluster("") else {
        return;
    };
    let (line, row) = shown(&cluster);
    assert_eq!(line, "start_timestamp: Tue, 20 Oct 2015 08:00:00 UTC");
    assert!(
        row.contains("| Tue, 20 Oct 2015 08:00:00 UTC | Tue, 20 Oct 2015 08:00:01 UTC |"),
        "{row}"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_format_isodate() {
    // "No timezone, defaults to UTC", then a zone given.
    let Some(cluster) = cluster("[cli]\ncache_token = True\n") else {
        return;
    };
    assert_eq!(
        shown(&cluster).0,
        "start_timestamp: Tue, 20 Oct 2015 08:00:00 UTC"
    );
    std::fs::write(
        cluster.config_path(),
        "[cli]\ntimezone = Europe/Ljubljana\n",
    )
    .unwrap();
    assert_eq!(
        shown(&cluster).0,
        "start_timestamp: Tue, 20 Oct 2015 10:00:00 CEST"
    );
    cluster.server.assert_clean();
}

#[test]
fn test_format_isodate_for_user_timezone() {
    let Some(cluster) = cluster("[cli]\ntimezone = Europe/Ljubljana\n") else {
        return;
    };
    let (line, row) = shown(&cluster);
    assert_eq!(line, "start_timestamp: Tue, 20 Oct 2015 10:00:00 CEST");
    assert!(
        row.contains("| Tue, 20 Oct 2015 10:00:00 CEST | Tue, 20 Oct 2015 10:00:01 CEST |"),
        "{row}"
    );
    // `-j` keeps the API's ISO times, as st2client's JSON output does.
    let json = cluster.st2(Auth::Token, &["execution", "get", ID, "-j"]);
    assert_exit(&json, 0);
    assert!(
        text(&json.stdout).contains("\"start_timestamp\": \"2015-10-20T08:00:00.000000Z\""),
        "{}",
        show(&json)
    );
    cluster.server.assert_clean();
}

/// Ours: local mode shows times in `[cli] timezone` too (the one `--config-file` is also the
/// CLI config), and a zone that does not exist is one line naming the option.
#[test]
fn local_mode_shows_times_in_the_users_zone_and_refuses_unknown_zones() {
    let home = Home::new();
    let mut conf = std::fs::read_to_string(&home.conf).unwrap();
    conf.push_str("\n[cli]\ntimezone = Asia/Tokyo\n");
    std::fs::write(&home.conf, &conf).unwrap();
    let run = home
        .st2()
        .args(["run", "core.local", "cmd=true"])
        .output()
        .unwrap();
    assert_exit(&run, 0);
    let stdout = text(&run.stdout);
    assert!(
        stdout
            .lines()
            .any(|line| line.starts_with("start_timestamp: ") && line.ends_with(" JST")),
        "{}",
        show(&run)
    );
    let list = home.st2().args(["execution", "list"]).output().unwrap();
    assert_exit(&list, 0);
    assert!(text(&list.stdout).contains(" JST |"), "{}", show(&list));
    std::fs::write(&home.conf, conf.replace("Asia/Tokyo", "Mars/Olympus_Mons")).unwrap();
    let bad = home.st2().args(["execution", "list"]).output().unwrap();
    assert_exit(&bad, 2);
    assert_eq!(
        text(&bad.stderr),
        format!(
            "error: unknown time zone \"Mars/Olympus_Mons\" (from [cli] timezone in {}): use \
             an IANA time zone name such as UTC or Europe/Paris\n",
            home.conf.display()
        )
    );
}
