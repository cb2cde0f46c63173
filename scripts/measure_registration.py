#!/usr/bin/env python3
"""Register a directory of packs with st2-rs and say what failed, and why.

    python3 scripts/measure_registration.py PACKS_DIR [--example-configs]
        [--st2-source ST2_DIR] [--st2ctl PATH]

Runs `st2ctl reload --register-all --register-no-fail-on-failure` (release build by default)
in a temporary StackStorm home whose `packs_base_paths` is PACKS_DIR, then prints: pack
directories, action metadata files found, packs and actions registered, and the failures
grouped by cause.

With `--example-configs`, each pack's `<dir>.yaml.example` is used as its config
(`configs/<dir>.yaml`), so that config registration is measured too.

With `--st2-source` (a checkout of StackStorm/st2 at v3.9.0) it also runs StackStorm's own
validation code on the same packs (scripts/upstream_registration_oracle.py, in a virtualenv
built once under target/oracle-venv from PyPI) and lists every file on which the two disagree:
refused by us and accepted by StackStorm, or the reverse. Nothing is written outside a
temporary directory and target/.
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What st2common imports for the modules the oracle uses (versions from its requirements.txt).
ORACLE_PACKAGES = [
    "jsonschema==3.2.0", "six", "pyyaml==6.0.3", "orjson", "oslo.config==9.6.0", "ciso8601",
    "python-dateutil==2.9.0.post0", "pymongo==4.6.3", "mongoengine==0.29.1", "kombu==5.5.4",
    "amqp==5.3.1", "jinja2==3.1.6", "semver==3.0.4", "requests==2.32.4", "eventlet==0.39.1",
    "greenlet==3.1.1", "tooz==6.3.0", "retrying==1.4.2", "tenacity==9.0.0", "webob==1.8.9",
    "routes==2.5.1", "jsonpath-rw==1.4.0", "networkx==3.1", "cryptography==43.0.3",
]


def action_files(pack_dir):
    files = []
    for ext in (".yaml", ".yml"):
        files.extend(glob.glob(os.path.join(pack_dir, "actions", "*" + ext)))
    return sorted(f for f in files if os.path.basename(f) not in ("config.yaml", "config.yml"))


def cause(reason):
    """A failure reason without file names, positions and values: what to group by."""
    reason = re.sub(r'"[^"]*"', '"…"', reason)
    reason = re.sub(r"/\S+:\d+:\d+: ", "", reason)
    reason = re.sub(r"'[^']*'", "'…'", reason)
    return reason[:160]


def run_st2ctl(st2ctl, packs_dir, home, example_configs):
    conf = os.path.join(home, "st2.conf")
    if example_configs:
        configs = os.path.join(home, "st2", "configs")
        os.makedirs(configs)
        for name in os.listdir(packs_dir):
            example = os.path.join(packs_dir, name, name + ".yaml.example")
            if os.path.isfile(example):
                shutil.copy(example, os.path.join(configs, name + ".yaml"))
    with open(conf, "w") as fd:
        fd.write(
            "[system]\nbase_path = %s\n[content]\npacks_base_paths = %s\n"
            % (os.path.join(home, "st2"), packs_dir)
        )
    done = subprocess.run(
        [st2ctl, "--config-file", conf, "reload", "--register-all",
         "--register-no-fail-on-failure", "-j"],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        sys.exit("st2ctl failed (%d): %s" % (done.returncode, done.stderr[-2000:]))
    return json.loads(done.stdout), os.path.join(home, "st2", "st2.db")


def oracle(st2_source, packs_dir, example_configs):
    venv = os.path.join(ROOT, "target", "oracle-venv")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q"] + ORACLE_PACKAGES, check=True)
    done = subprocess.run(
        [python, os.path.join(ROOT, "scripts", "upstream_registration_oracle.py"),
         st2_source, packs_dir] + (["--example-configs"] if example_configs else []),
        capture_output=True, text=True, cwd=tempfile.gettempdir(),
    )
    if done.returncode != 0:
        sys.exit("oracle failed: %s" % done.stderr[-2000:])
    return [json.loads(line) for line in done.stdout.splitlines()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("packs_dir")
    parser.add_argument("--st2-source")
    parser.add_argument("--example-configs", action="store_true")
    parser.add_argument("--st2ctl", default=os.path.join(ROOT, "target", "release", "st2ctl"))
    args = parser.parse_args()
    packs_dir = os.path.abspath(args.packs_dir)
    if not os.path.exists(args.st2ctl):
        subprocess.run(["cargo", "build", "--release", "--bin", "st2ctl"], cwd=ROOT, check=True)

    dirs = sorted(
        d for d in os.listdir(packs_dir) if os.path.isdir(os.path.join(packs_dir, d))
    )
    packs = [d for d in dirs if os.path.isfile(os.path.join(packs_dir, d, "pack.yaml"))]
    files = {d: action_files(os.path.join(packs_dir, d)) for d in packs}
    with tempfile.TemporaryDirectory() as home:
        report, db = run_st2ctl(args.st2ctl, packs_dir, home, args.example_configs)
        conn = sqlite3.connect(db)
        registered_actions = conn.execute("SELECT COUNT(*) FROM actions").fetchone()[0]
        registered_configs = conn.execute("SELECT COUNT(*) FROM configs").fetchone()[0]
        conn.close()

    failures = report["failures"]
    failed_files = {}  # file (or pack directory name) -> reason
    by_cause = collections.Counter()
    for line in failures:
        validating = re.match(r'Failed validating attribute "[^"]*" in config for pack "[^"]*" \((/[^)]*)\): (.*)', line)
        if validating:
            name = os.path.basename(validating.group(1))[: -len(".yaml")]
            failed_files["config:" + name] = validating.group(2)
            by_cause[("config", cause(validating.group(2)))] += 1
            continue
        match = re.match(
            r'Failed to register (\w+) "([^"]*)"(?: (?:from|for) pack "[^"]*")?: (.*)', line
        )
        if match and match.group(1) == "config":
            name = os.path.basename(match.group(2))[: -len(".yaml")]
            failed_files["config:" + name] = match.group(3)
            by_cause[("config", cause(match.group(3)))] += 1
            continue
        if not match:
            by_cause[("other", cause(line))] += 1
            continue
        kind, name, reason = match.groups()
        schema = re.search(r"(/\S*/config\.schema\.yaml)", reason)
        if kind == "pack" and schema:
            kind, name = "schema", schema.group(1)
        failed_files[name] = reason
        by_cause[(kind, cause(reason))] += 1
    print("pack directories:         %d (%d with pack.yaml)" % (len(dirs), len(packs)))
    print("action metadata files:    %d" % sum(len(f) for f in files.values()))
    print("packs registered:         %d" % len(report["packs"]))
    print("actions registered:       %d" % registered_actions)
    if args.example_configs:
        print("configs registered:       %d" % registered_configs)
    print("failures:                 %d" % len(failures))
    for (kind, reason), count in by_cause.most_common():
        print("  %5d  %-7s %s" % (count, kind, reason))
    if not args.st2_source:
        return
    verdicts = oracle(os.path.abspath(args.st2_source), packs_dir, args.example_configs)
    refused_upstream = {v["file"]: v["error"] for v in verdicts if v["error"]}
    print("StackStorm's own code:    %d files checked, %d refused"
          % (len(verdicts), len(refused_upstream)))
    disagreements = 0
    for verdict in verdicts:
        key = {"pack": verdict["pack"], "config": "config:" + verdict["pack"]}.get(
            verdict["kind"], verdict["file"]
        )
        ours = failed_files.get(key)
        theirs = verdict["error"]
        if (ours is None) != (theirs is None):
            disagreements += 1
            print("  DIFFERS %s\n    st2-rs:     %s\n    StackStorm: %s"
                  % (verdict["file"], ours or "accepted", theirs or "accepted"))
    print("disagreements:            %d" % disagreements)


if __name__ == "__main__":
    main()
