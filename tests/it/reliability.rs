//! Faults: commands killed with SIGKILL at random points leave a store that opens, lists and
//! takes the next command. The seed is printed (and can be set with ST2_TEST_SEED).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::common::*;

/// xorshift64*: enough randomness for kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn from_env() -> Rng {
        let seed = std::env::var("ST2_TEST_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        println!("seed: {seed} (rerun with ST2_TEST_SEED={seed})");
        Rng(seed)
    }

    fn below(&mut self, limit: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % limit
    }
}

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
        std::thread::sleep(Duration::from_micros(rng.below(40_000)));
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
    let mut child = home.spawn_st2(&["run", "core.local", "cmd=exec sleep 7.25"]);
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
    let left = std::process::Command::new("pgrep")
        .args(["-f", "sleep 7.25"])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "{}", stdout(&left));
    let output = home
        .st2()
        .args(["execution", "list", "-j"])
        .output()
        .unwrap();
    let executions: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(executions[0]["status"], "abandoned");
}
