//! The Python modules StackStorm's actions import (`st2common...`, `st2actions...`) and the
//! action wrapper itself (`python_runner.python_action_wrapper`), as files: `shim/` is
//! embedded in the binary and written out once to `<base_path>/cache/python-shim-<hash>/`,
//! which the runner puts last on the action's `PYTHONPATH`.
//!
//! Files rather than one `-c` string: Python imports (and caches as bytecode) only the modules
//! an action uses, so a trivial action starts as fast as Python does; and a pack's own
//! subprocesses that import `st2common` find it too, as they do on a StackStorm host.

use std::path::PathBuf;

use crate::settings::Settings;

/// Every file of `shim/`, by its path inside it.
const FILES: &[(&str, &str)] = &[
    (
        "python_runner/__init__.py",
        include_str!("shim/python_runner/__init__.py"),
    ),
    (
        "python_runner/python_action_wrapper.py",
        include_str!("shim/python_runner/python_action_wrapper.py"),
    ),
    (
        "st2actions/__init__.py",
        include_str!("shim/st2actions/__init__.py"),
    ),
    (
        "st2actions/runners/__init__.py",
        include_str!("shim/st2actions/runners/__init__.py"),
    ),
    (
        "st2actions/runners/pythonrunner.py",
        include_str!("shim/st2actions/runners/pythonrunner.py"),
    ),
    (
        "st2common/__init__.py",
        include_str!("shim/st2common/__init__.py"),
    ),
    (
        "st2common/_st2rs.py",
        include_str!("shim/st2common/_st2rs.py"),
    ),
    (
        "st2common/constants/__init__.py",
        include_str!("shim/st2common/constants/__init__.py"),
    ),
    (
        "st2common/constants/action.py",
        include_str!("shim/st2common/constants/action.py"),
    ),
    (
        "st2common/constants/keyvalue.py",
        include_str!("shim/st2common/constants/keyvalue.py"),
    ),
    (
        "st2common/constants/pack.py",
        include_str!("shim/st2common/constants/pack.py"),
    ),
    (
        "st2common/content/__init__.py",
        include_str!("shim/st2common/content/__init__.py"),
    ),
    (
        "st2common/content/utils.py",
        include_str!("shim/st2common/content/utils.py"),
    ),
    (
        "st2common/exceptions/__init__.py",
        include_str!("shim/st2common/exceptions/__init__.py"),
    ),
    (
        "st2common/exceptions/action.py",
        include_str!("shim/st2common/exceptions/action.py"),
    ),
    (
        "st2common/expressions/__init__.py",
        include_str!("shim/st2common/expressions/__init__.py"),
    ),
    (
        "st2common/expressions/functions/__init__.py",
        include_str!("shim/st2common/expressions/functions/__init__.py"),
    ),
    (
        "st2common/expressions/functions/data.py",
        include_str!("shim/st2common/expressions/functions/data.py"),
    ),
    (
        "st2common/expressions/functions/datastore.py",
        include_str!("shim/st2common/expressions/functions/datastore.py"),
    ),
    (
        "st2common/expressions/functions/path.py",
        include_str!("shim/st2common/expressions/functions/path.py"),
    ),
    (
        "st2common/expressions/functions/regex.py",
        include_str!("shim/st2common/expressions/functions/regex.py"),
    ),
    (
        "st2common/expressions/functions/time.py",
        include_str!("shim/st2common/expressions/functions/time.py"),
    ),
    (
        "st2common/expressions/functions/version.py",
        include_str!("shim/st2common/expressions/functions/version.py"),
    ),
    ("st2common/log.py", include_str!("shim/st2common/log.py")),
    (
        "st2common/runners/__init__.py",
        include_str!("shim/st2common/runners/__init__.py"),
    ),
    (
        "st2common/runners/base_action.py",
        include_str!("shim/st2common/runners/base_action.py"),
    ),
    (
        "st2common/runners/utils.py",
        include_str!("shim/st2common/runners/utils.py"),
    ),
    (
        "st2common/services/__init__.py",
        include_str!("shim/st2common/services/__init__.py"),
    ),
    (
        "st2common/services/datastore.py",
        include_str!("shim/st2common/services/datastore.py"),
    ),
    (
        "st2common/util/__init__.py",
        include_str!("shim/st2common/util/__init__.py"),
    ),
    (
        "st2common/util/compat.py",
        include_str!("shim/st2common/util/compat.py"),
    ),
    (
        "st2common/util/date.py",
        include_str!("shim/st2common/util/date.py"),
    ),
    (
        "st2common/util/isotime.py",
        include_str!("shim/st2common/util/isotime.py"),
    ),
    (
        "st2common/util/jinja.py",
        include_str!("shim/st2common/util/jinja.py"),
    ),
    (
        "st2common/util/jsonify.py",
        include_str!("shim/st2common/util/jsonify.py"),
    ),
    (
        "st2common/util/shell.py",
        include_str!("shim/st2common/util/shell.py"),
    ),
];

/// The name of this build's module directory under the cache directory (other builds have
/// other names: `st2 pack prune` lists theirs).
pub(crate) fn dir_name() -> String {
    format!("python-shim-{:016x}", fingerprint())
}

/// The directory holding the modules (written on first use), for `PYTHONPATH`.
pub(super) fn dir(settings: &Settings) -> std::io::Result<PathBuf> {
    let dir = settings.cache_dir().join(dir_name());
    crate::fs::write_tree_once(&dir, FILES)?;
    Ok(dir)
}

/// FNV-1a of every path and content: a new binary with other modules writes a new directory.
fn fingerprint() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (path, text) in FILES {
        for byte in path.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_module_of_the_shim_directory_is_embedded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runner/python/shim");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|ext| ext == "py") {
                    let relative = path.strip_prefix(&root).unwrap();
                    on_disk.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let embedded: Vec<String> = FILES.iter().map(|(path, _)| path.to_string()).collect();
        assert_eq!(embedded, on_disk, "list every shim/*.py in FILES");
    }

    /// What Exchange packs call (grep of `../shared/exchange/packs` for `st2common` and
    /// `st2actions` imports), run by the Python st2-rs runs actions with.
    const LEGACY_IMPORTS: &str = r#"
import datetime, json, os, sys

from st2common import _st2rs
_st2rs.PACKS_BASE_PATHS = [sys.argv[1], sys.argv[2]]

from st2actions.runners import pythonrunner
from st2actions.runners.pythonrunner import Action as LegacyAction
from st2common.runners.base_action import Action
from st2common.runners.utils import get_logger_for_python_runner_action
from st2common.exceptions.action import InvalidActionParameterException
from st2common.exceptions import StackStormBaseException
from st2common.util import isotime
from st2common.util.shell import run_command
from st2common.util import jinja as jinja_utils
import st2common.util.date as date
from st2common.content import utils as content_utils

out = {}
out["legacy_action"] = pythonrunner.Action is Action and LegacyAction is Action
out["exception"] = issubclass(InvalidActionParameterException, StackStormBaseException)
dt = isotime.parse("2016-10-03T15:04:05.123456Z")
out["parse"] = [dt.year, dt.month, dt.day, dt.hour, dt.microsecond, dt.utcoffset().total_seconds()]
out["format"] = isotime.format(dt)
out["format_no_usec"] = isotime.format(dt, usec=False, offset=False)
try:
    isotime.parse("03/10/2016")
    out["invalid"] = "accepted"
except ValueError as e:
    out["invalid"] = str(e)
out["now_is_utc"] = date.get_datetime_utc_now().utcoffset().total_seconds() == 0
out["to_utc"] = date.convert_to_utc(
    datetime.datetime(2020, 1, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
).hour
out["run_command"] = run_command(cmd=["sh", "-c", "echo out; echo err >&2; exit 3"])
out["run_command_shell"] = run_command(cmd="echo $((1+2))", shell=True)[1]
out["pack_base_path"] = content_utils.get_pack_base_path("there")
out["pack_missing"] = content_utils.get_pack_base_path("missing")
out["pack_directory"] = content_utils.get_pack_directory("missing")
out["entry_point"] = content_utils.get_entry_point_abs_path("there", "a.py")
try:
    content_utils.get_pack_file_abs_path("there", "../x")
    out["traversal"] = "accepted"
except ValueError as e:
    out["traversal"] = str(e)
filters = jinja_utils.get_filters()
out["filters"] = [
    filters["to_json_string"]({"a": 1}),
    filters["json_escape"]('say "hi"'),
    filters["regex_replace"]("abc", "b", "x"),
    filters["regex_substring"]("a1b22", r"\d+", 1),
    filters["to_human_time_from_seconds"](3725),
    filters["version_compare"]("1.2.3", "1.10.0"),
    filters["version_match"]("1.2.3", ">=1.2.0"),
    filters["version_more_than"]("1.0.0", "1.0.0-rc.1"),
    filters["version_bump_minor"]("1.2.3"),
    filters["version_strip_patch"]("1.2.3"),
    filters["use_none"](None),
    filters["basename"]("/a/b.txt"),
]
out["jinja_expression"] = jinja_utils.is_jinja_expression("{{ a }}")
out["logger"] = get_logger_for_python_runner_action("X", "info").name
try:
    import jinja2
except ImportError:
    jinja2 = None
if jinja2 is not None:
    env = jinja_utils.get_jinja_environment(allow_undefined=True)
    out["render"] = env.from_string("{{ x | to_json_string }}{{ y }}").render(x=[1])
    out["render_values"] = jinja_utils.render_values({"a": "{{ n }}", "b": [1]}, {"n": 2})
print(json.dumps(out))
"#;

    #[test]
    fn the_modules_exchange_packs_import_work() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::from_ini(&Default::default(), Some(dir.path().join("st2")), None).unwrap();
        let shim = super::dir(&settings).unwrap();
        let (first, second) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(second.join("there/actions")).unwrap();
        let output = std::process::Command::new("python3")
            .arg("-c")
            .arg(LEGACY_IMPORTS)
            .arg(&first)
            .arg(&second)
            .env(crate::settings::env::PYTHONPATH, &shim)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let there = second.join("there");
        assert_eq!(out["legacy_action"], true);
        assert_eq!(out["exception"], true);
        assert_eq!(
            out["parse"],
            serde_json::json!([2016, 10, 3, 15, 123456, 0.0])
        );
        assert_eq!(out["format"], "2016-10-03T15:04:05.123456+00:00");
        assert_eq!(out["format_no_usec"], "2016-10-03T15:04:05Z");
        assert_eq!(
            out["invalid"],
            "Datetime value does not match expected format."
        );
        assert_eq!(out["now_is_utc"], true);
        assert_eq!(out["to_utc"], 10);
        assert_eq!(out["run_command"], serde_json::json!([3, "out\n", "err\n"]));
        assert_eq!(out["run_command_shell"], "3\n");
        assert_eq!(out["pack_base_path"], there.to_str().unwrap());
        assert_eq!(out["pack_missing"], first.join("missing").to_str().unwrap());
        assert_eq!(out["pack_directory"], serde_json::Value::Null);
        assert_eq!(
            out["entry_point"],
            there.join("actions/a.py").to_str().unwrap()
        );
        assert!(out["traversal"].as_str().unwrap().starts_with(
            "Invalid file path: \"../x\". File path needs to be relative to the pack directory"
        ));
        assert_eq!(
            out["filters"],
            serde_json::json!([
                "{\"a\": 1}",
                // upstream's strip('"') also takes the quote of the last \"
                "say \\\"hi\\",
                "axc",
                "22",
                "1h2m5s",
                -1,
                true,
                true,
                "1.3.0",
                "1.2",
                "%*****__%NONE%__*****%",
                "b.txt"
            ])
        );
        assert_eq!(out["jinja_expression"], true);
        assert_eq!(out["logger"], "st2.actions.python.X");
        if !out["render"].is_null() {
            assert_eq!(out["render"], "[1]");
            assert_eq!(
                out["render_values"],
                serde_json::json!({"a": "2", "b": [1]})
            );
        }
    }

    /// Results are serialized as orjson (upstream's serializer) does by default.
    #[test]
    fn results_are_serialized_as_orjson_does() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::from_ini(&Default::default(), Some(dir.path().to_path_buf()), None).unwrap();
        let shim = super::dir(&settings).unwrap();
        let script = r#"
import dataclasses, datetime, enum, uuid
from python_runner.python_action_wrapper import dumps, _loads

class Color(enum.Enum):
    RED = "red"

@dataclasses.dataclass
class Point:
    x: int
    y: float

print(dumps({
    "when": datetime.datetime(2020, 1, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
    "naive": datetime.datetime(2020, 1, 2, 3, 4, 5),
    "day": datetime.date(2020, 1, 2),
    "id": uuid.UUID(int=1),
    "color": Color.RED,
    "point": Point(1, 2.5),
    "tuple": (1, "é"),
    "nan": float("nan"),
    "big": 2**64 - 1,
}).decode("utf-8"))
for bad in [{1: "a"}, 2**64, b"x", {"s": {1}}, datetime.time(1, tzinfo=datetime.timezone.utc)]:
    try:
        dumps(bad)
        print("serialized", repr(bad))
    except TypeError:
        pass
print(_loads(' {"a": [1, 2.5, null, true, "\u00e9"]} ') == {"a": [1, 2.5, None, True, "é"]})
"#;
        let output = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .env(crate::settings::env::PYTHONPATH, &shim)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let mut lines = text.lines();
        let value: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "when": "2020-01-02T03:04:05.000006+00:00",
                "naive": "2020-01-02T03:04:05",
                "day": "2020-01-02",
                "id": "00000000-0000-0000-0000-000000000001",
                "color": "red",
                "point": {"x": 1, "y": 2.5},
                "tuple": [1, "é"],
                "nan": null,
                "big": 18446744073709551615u64,
            })
        );
        assert_eq!(lines.collect::<Vec<_>>(), ["True"]);
    }

    #[test]
    fn written_once_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let settings =
            Settings::from_ini(&Default::default(), Some(dir.path().to_path_buf()), None).unwrap();
        let written = super::dir(&settings).unwrap();
        // Complete: every module, as embedded.
        for (path, text) in FILES {
            assert_eq!(std::fs::read_to_string(written.join(path)).unwrap(), *text);
        }
        assert_eq!(super::dir(&settings).unwrap(), written);
    }
}
