//! Faults: commands killed with SIGKILL at random points leave a store that opens, lists and
//! takes the next command. The seed is printed (and can be set with ST2_TEST_SEED).

use std::time::Duration;

use serde_json::Value;

use crate::common::*;

#[test]
fn st2_run_killed_at_random_points_leaves_a_consistent_store() {
    let home = Home::new();
    assert!(home
        .st2()
        .args(["run", "core.noop"])
        .output()
        .unwrap()
        .status
        .success());
    let mut rng = Rng::from_env();
    let kills = 50;
    for round in 0..kills {
        let cmd = format!("cmd=echo {round}; sleep 0.02");
        let mut child = home.spawn_st2(&["run", "core.local", &cmd]);
        std::thread::sleep(Duration::from_micros(rng.below(40_000) as u64));
        let _ = child.kill();
        let _ = child.wait();
        let output = home
            .st2()
            .args(["execution", "list", "-n", "1000", "-j"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "round {round}: {}",
            stderr(&output)
        );
    }
    let output = home
        .st2()
        .args(["execution", "list", "-n", "1000", "-j"])
        .output()
        .unwrap();
    let executions: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    // Every kill either came before the record (nothing stored) or left a record that is
    // finished or, its process gone, abandoned: none stays "running".
    assert!(executions.len() <= kills + 1);
    for execution in &executions {
        let status = execution["status"].as_str().unwrap();
        assert!(
            ["succeeded", "abandoned"].contains(&status),
            "{status}: {execution}"
        );
    }
    assert_eq!(home.query("PRAGMA integrity_check"), ["ok"]);
    let output = home
        .st2()
        .args(["run", "core.local", "cmd=echo after"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// The action's process dies with st2 (PR_SET_PDEATHSIG). Processes the action started
/// itself can outlive it (dash forks even a lone command, hence the `exec`).
#[test]
fn an_action_dies_with_the_st2_process_running_it() {
    let home = Home::new();
    let seconds = unique_seconds(&home, 7);
    let mut child = home.spawn_st2(&["run", "core.local", &format!("cmd=exec sleep {seconds}")]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
    let left = processes_matching(&format!("sleep {seconds}"));
    assert!(left.is_empty(), "{left:?}");
    let output = home
        .st2()
        .args(["execution", "list", "-j"])
        .output()
        .unwrap();
    let executions: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(executions[0]["status"], "abandoned");
}

/// Kill `child` (SIGKILL) after `micros`, then check that `st2 pack list` works.
fn kill_then_list(home: &Home, mut child: std::process::Child, micros: usize, round: usize) {
    std::thread::sleep(Duration::from_micros(micros as u64));
    let _ = child.kill();
    let _ = child.wait();
    let output = home.st2().args(["pack", "list", "-j"]).output().unwrap();
    assert!(
        output.status.success(),
        "round {round}: {}",
        stderr(&output)
    );
}

/// A pack repository whose two tagged versions have different actions.
fn two_version_repo(path: &std::path::Path) -> GitRepo {
    let repo = GitRepo::init(path);
    for (version, actions) in VERSIONS {
        let _ = std::fs::remove_dir_all(path.join("actions"));
        pack_files(path, "kill", version, actions);
        repo.commit_all(&format!("release {version}"));
        repo.tag(&format!("v{version}"));
    }
    repo
}

const VERSIONS: [(&str, &[&str]); 2] = [("1.0.0", &["a", "b"]), ("2.0.0", &["b", "c", "d"])];

/// Version and action names of pack `kill`, as on disk and as in the store.
#[derive(Debug, PartialEq)]
struct PackState {
    disk: Option<(String, Vec<String>)>,
    store: Option<(String, Vec<String>)>,
}

fn pack_state(home: &Home) -> PackState {
    let dir = home.pack("kill");
    let disk = dir.join("pack.yaml").is_file().then(|| {
        let manifest = std::fs::read_to_string(dir.join("pack.yaml")).unwrap();
        let version = manifest
            .lines()
            .find_map(|line| line.strip_prefix("version: "))
            .unwrap()
            .to_string();
        let mut actions: Vec<String> = std::fs::read_dir(dir.join("actions"))
            .unwrap()
            .map(|entry| {
                let name = entry.unwrap().file_name().into_string().unwrap();
                name.trim_end_matches(".yaml").to_string()
            })
            .collect();
        actions.sort();
        (version, actions)
    });
    let version = home.query("SELECT version FROM packs WHERE ref = 'kill'");
    let store = version.first().map(|version| {
        let actions = home.query("SELECT name FROM actions WHERE pack = 'kill' ORDER BY name");
        (version.clone(), actions)
    });
    PackState { disk, store }
}

/// The pack is wholly one version or wholly absent, on disk and in the store alike.
fn assert_consistent(home: &Home, context: &str) {
    let state = pack_state(home);
    assert_eq!(
        state.disk, state.store,
        "{context}: disk and store disagree"
    );
    if let Some((version, actions)) = &state.disk {
        let (_, expected) = VERSIONS.iter().find(|(v, _)| v == version).unwrap();
        assert_eq!(
            actions, expected,
            "{context}: version {version} is half there"
        );
    }
}

fn staging_dirs(home: &Home) -> Vec<String> {
    std::fs::read_dir(home.packs())
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .filter(|name| name.starts_with(".st2-"))
                .collect()
        })
        .unwrap_or_default()
}

fn install_version(home: &Home, repo: &GitRepo, version: &str) -> std::process::Output {
    home.st2()
        .args(["pack", "install", &format!("{}={version}", repo.url())])
        .output()
        .unwrap()
}

/// Install version 2.0.0, killed (SIGKILL) at `failpoint`.
fn killed_at(home: &Home, repo: &GitRepo, failpoint: &str) {
    let output = home
        .st2()
        .env("ST2_FAILPOINT", failpoint)
        .args(["pack", "install", &format!("{}=2.0.0", repo.url())])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        None,
        "not killed: {}",
        stderr(&output)
    );
}

/// The narrowest window, hit deterministically: killed after the new directory is in place
/// and before the store registers it. The next command swaps the old version back.
#[test]
fn an_install_killed_between_swap_and_registration_is_rolled_back() {
    let home = Home::new();
    let repo = two_version_repo(&home.dir.path().join("kill"));
    assert!(install_version(&home, &repo, "1.0.0").status.success());

    killed_at(&home, &repo, "install-after-swap");
    let state = pack_state(&home);
    assert_eq!(state.disk.unwrap().0, "2.0.0");
    assert_eq!(state.store.unwrap().0, "1.0.0");

    let output = home.st2().args(["pack", "list"]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("kill: rolled back an install that was interrupted"),
        "{}",
        stderr(&output)
    );
    assert_consistent(&home, "after pack list");
    assert_eq!(pack_state(&home).disk.unwrap().0, "1.0.0");
    assert!(staging_dirs(&home).is_empty(), "{:?}", staging_dirs(&home));

    // A first install killed the same way leaves nothing at all.
    let other = Home::new();
    killed_at(&other, &repo, "install-after-swap");
    assert!(other.pack("kill").exists());
    assert!(other.installed().is_empty());
    assert!(!other.pack("kill").exists());
    assert_consistent(&other, "first install rolled back");

    assert!(install_version(&home, &repo, "2.0.0").status.success());
    assert_consistent(&home, "reinstalled");
}

/// Killed after registering, before deleting its staging copy of the old version: the
/// install is complete, and the next install removes the leftover.
#[test]
fn leftovers_of_a_killed_install_are_removed_by_the_next_one() {
    let home = Home::new();
    let repo = two_version_repo(&home.dir.path().join("kill"));
    assert!(install_version(&home, &repo, "1.0.0").status.success());
    killed_at(&home, &repo, "install-after-register");
    assert_eq!(staging_dirs(&home).len(), 1);
    assert_consistent(&home, "registered");
    assert_eq!(pack_state(&home).disk.unwrap().0, "2.0.0");
    assert!(install_version(&home, &repo, "1.0.0").status.success());
    assert!(staging_dirs(&home).is_empty(), "{:?}", staging_dirs(&home));
}

#[test]
fn st2_pack_install_killed_at_random_points_leaves_each_pack_whole() {
    let home = Home::new();
    let repo = two_version_repo(&home.dir.path().join("kill"));
    // How long one install takes here, to spread the kills over all of it.
    let started = std::time::Instant::now();
    assert!(install_version(&home, &repo, "1.0.0").status.success());
    let span = started.elapsed().as_micros() as usize + 1;
    let mut rng = Rng::from_env();
    let kills = 50;
    for round in 0..kills {
        let (version, _) = VERSIONS[rng.below(2)];
        let argument = format!("{}={version}", repo.url());
        let child = home.spawn_st2(&["pack", "install", &argument]);
        kill_then_list(&home, child, rng.below(span), round);
        assert_consistent(&home, &format!("round {round}"));
    }
    for (version, _) in VERSIONS {
        let output = install_version(&home, &repo, version);
        assert!(output.status.success(), "{}", stderr(&output));
        assert_consistent(&home, "after the kills");
        assert_eq!(pack_state(&home).disk.unwrap().0, version);
    }
    assert!(staging_dirs(&home).is_empty(), "{:?}", staging_dirs(&home));
    assert_eq!(home.query("PRAGMA integrity_check"), ["ok"]);
}

/// Reload registers pack by pack, each in one transaction: killed anywhere, every pack is
/// registered as it was before or as it is on disk now, never a mix.
#[test]
fn st2ctl_reload_killed_at_random_points_leaves_each_pack_whole() {
    let home = Home::new();
    let packs = 12;
    let variants: [&[&str]; 2] = [
        &["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"],
        &["b1", "b2", "b3"],
    ];
    let write_pack = |index: usize, variant: usize| {
        let dir = home.pack(&format!("p{index}"));
        let _ = std::fs::remove_dir_all(&dir);
        pack_files(&dir, &format!("p{index}"), "1.0.0", variants[variant]);
    };
    let registered = |index: usize| -> Vec<String> {
        home.query(&format!(
            "SELECT name FROM actions WHERE pack = 'p{index}' ORDER BY name"
        ))
    };
    let names = |variant: usize| -> Vec<String> {
        variants[variant]
            .iter()
            .map(|name| name.to_string())
            .collect()
    };
    let mut on_disk = vec![0; packs];
    for (index, variant) in on_disk.iter().enumerate() {
        write_pack(index, *variant);
    }
    let started = std::time::Instant::now();
    assert!(home
        .st2ctl()
        .arg("reload")
        .output()
        .unwrap()
        .status
        .success());
    let span = started.elapsed().as_micros() as usize + 1;

    let mut rng = Rng::from_env();
    let kills = 50;
    for round in 0..kills {
        let before: Vec<Vec<String>> = (0..packs).map(registered).collect();
        for (index, variant) in on_disk.iter_mut().enumerate() {
            if rng.below(2) == 1 {
                *variant = 1 - *variant;
                write_pack(index, *variant);
            }
        }
        let child = home.spawn("st2ctl", &["reload"], std::process::Stdio::null());
        kill_then_list(&home, child, rng.below(span), round);
        for index in 0..packs {
            let now = registered(index);
            assert!(
                now == before[index] || now == names(on_disk[index]),
                "round {round}, pack p{index}: {now:?} is neither {:?} nor {:?}",
                before[index],
                names(on_disk[index])
            );
        }
    }
    let output = home.st2ctl().arg("reload").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    for (index, variant) in on_disk.iter().enumerate() {
        assert_eq!(registered(index), names(*variant));
    }
    assert_eq!(home.query("PRAGMA integrity_check"), ["ok"]);
}

/// A Python pack `pyk` whose two versions have different requirements (so each has its own
/// virtualenv), installed at 1.0.0; the text of its virtualenv's fingerprint file.
fn python_two_version_home() -> (Home, GitRepo, String) {
    let home = Home::new();
    let dir = home.dir.path().join("remotes/pyk");
    let repo = GitRepo::init(&dir);
    for version in ["1.0.0", "2.0.0"] {
        crate::install_failures::python_pack(
            &dir,
            "pyk",
            version,
            Some(&format!("# requirements of {version}\n")),
        );
        repo.commit_all(version);
        repo.tag(&format!("v{version}"));
    }
    let output = home
        .st2()
        .args(["pack", "install", &format!("{}=1.0.0", repo.url())])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let marker = venv_marker(&home);
    (home, repo, marker)
}

fn venv_marker(home: &Home) -> String {
    std::fs::read_to_string(home.venv("pyk").join(".st2-venv.json")).unwrap()
}

/// Names starting `.st2-` in the packs and virtualenvs directories.
fn all_staging_dirs(home: &Home) -> Vec<String> {
    let mut names = staging_dirs(home);
    if let Ok(entries) = std::fs::read_dir(home.base.join("virtualenvs")) {
        names.extend(
            entries
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .filter(|name| name.starts_with(".st2-staging")),
        );
    }
    names
}

fn pyk_version(home: &Home) -> (String, Vec<String>) {
    let manifest = std::fs::read_to_string(home.pack("pyk").join("pack.yaml")).unwrap();
    let disk = manifest
        .lines()
        .find_map(|line| line.strip_prefix("version: "))
        .unwrap()
        .to_string();
    (
        disk,
        home.query("SELECT version FROM packs WHERE ref = 'pyk'"),
    )
}

/// The virtualenv is swapped in with the pack and journalled with it: an install killed after
/// swapping the new virtualenv in (before or after the pack directory) is rolled back whole by
/// the next command, whichever it is (`st2 pack list`, another `st2 pack install`, `st2ctl
/// reload`), and the old version gets its old virtualenv back.
#[test]
fn an_install_killed_after_its_virtualenv_swap_is_rolled_back_with_it() {
    let (home, repo, marker) = python_two_version_home();
    let v2 = format!("{}=2.0.0", repo.url());
    let next_commands: [(&str, &[&str]); 3] = [
        ("st2", &["pack", "list"]),
        // An install of another pack: it must not delete the staging directory that holds
        // the version to roll back to before rolling back.
        ("st2", &["pack", "install", "./other"]),
        ("st2ctl", &["reload"]),
    ];
    pack_files(&home.dir.path().join("other"), "other", "1.0.0", &["x"]);
    for (failpoint, (program, args)) in [
        "install-after-venv-swap",
        "install-after-swap",
        "install-after-swap",
    ]
    .iter()
    .zip(next_commands)
    {
        let context = format!("{failpoint}, then {program} {args:?}");
        let output = home
            .st2()
            .env("ST2_FAILPOINT", failpoint)
            .args(["pack", "install", &v2])
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            None,
            "not killed: {}",
            stderr(&output)
        );
        assert_ne!(
            venv_marker(&home),
            marker,
            "{context}: the new virtualenv is in place"
        );
        let output = if program == "st2" {
            home.st2().args(args).output().unwrap()
        } else {
            home.st2ctl().args(args).output().unwrap()
        };
        assert!(output.status.success(), "{context}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("pyk: rolled back an install that was interrupted"),
            "{context}: {}",
            stderr(&output)
        );
        assert_eq!(
            pyk_version(&home),
            ("1.0.0".to_string(), vec!["1.0.0".to_string()]),
            "{context}"
        );
        assert_eq!(
            venv_marker(&home),
            marker,
            "{context}: the old virtualenv is back"
        );
        assert!(
            all_staging_dirs(&home).is_empty(),
            "{context}: {:?}",
            all_staging_dirs(&home)
        );
        assert!(home.query("SELECT pack FROM pending_swaps").is_empty());
    }
    let output = home.st2().args(["pack", "install", &v2]).output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(pyk_version(&home).0, "2.0.0");
    assert_ne!(venv_marker(&home), marker);
}
