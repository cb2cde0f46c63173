# Copyright 2020 The StackStorm Authors.
# Copyright 2019 Extreme Networks, Inc.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# StackStorm's Jinja environment, for the differential test `rendering_matches_jinja2`
# (tests/it/params_differential.rs): Jinja2 set up as st2common/st2common/util/jinja.py's
# get_jinja_environment() does, with the filters of st2common/st2common/expressions/
# functions/ of StackStorm 3.9.0. The filter functions are copied unchanged, except:
# from_json_string uses json.loads where upstream uses orjson.loads (same results for the
# JSON text generated here), the YAML helpers are PyYAML's safe_load/safe_dump as
# st2common.constants.meta defines them, mongodb_to_python_types is the identity (no
# MongoDB types here), and jsonpath_query, decrypt_kv and the version_* filters are left
# out (they need jsonpath-rw, the datastore key and semver; unit tests beside our filters
# check them with StackStorm's own test cases). A main reads cases as JSON on stdin and
# prints each rendering or its error.

import datetime
import json
import re
import os
import sys

import yaml


class six(object):
    string_types = (str,)
    text_type = str

long_int = int


def yaml_safe_load(stream):
    return yaml.safe_load(stream)


def yaml_safe_dump(data, **kwargs):
    return yaml.safe_dump(data, **kwargs)


class db_util(object):
    @staticmethod
    def mongodb_to_python_types(value):
        return value


# --- st2common/expressions/functions/data.py

def from_json_string(value):
    return json.loads(six.text_type(value))


def from_yaml_string(value):
    return yaml_safe_load(six.text_type(value))


def to_json_string(value, indent=None, sort_keys=False, separators=(",", ": ")):
    value = db_util.mongodb_to_python_types(value)

    options = {}

    if indent is not None:
        options["indent"] = indent

    if sort_keys is not None:
        options["sort_keys"] = sort_keys

    if separators is not None:
        options["separators"] = separators

    return json.dumps(value, **options)


def to_yaml_string(value, indent=None, allow_unicode=True):
    value = db_util.mongodb_to_python_types(value)

    options = {"default_flow_style": False}

    if indent is not None:
        options["indent"] = indent

    if allow_unicode is not None:
        options["allow_unicode"] = allow_unicode

    return yaml_safe_dump(value, **options)


def json_escape(value):
    """Adds escape sequences to problematic characters in the string
    This filter simply passes the value to json.dumps
    as a convenient way of escaping characters in it
    However, before returning, we want to strip the double
    quotes at the ends of the string, since we're not looking
    for a valid JSON value at the end, just conveniently using
    this function to do the escaping. The value could be any
    arbitrary value
    """

    return json.dumps(value).strip('"')


def to_complex(value):
    return json.dumps(value)


# Magic string to which None type is serialized when using use_none filter
NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"


def use_none(value):
    return NONE_MAGIC_VALUE if value is None else value

# --- st2common/expressions/functions/regex.py

def _get_regex_flags(ignorecase=False):
    return re.I if ignorecase else 0


def regex_match(value, pattern, ignorecase=False):
    if not isinstance(value, six.string_types):
        value = str(value)
    flags = _get_regex_flags(ignorecase)
    return bool(re.match(pattern, value, flags))


def regex_replace(value, pattern, replacement, ignorecase=False):
    if not isinstance(value, six.string_types):
        value = str(value)
    flags = _get_regex_flags(ignorecase)
    regex = re.compile(pattern, flags)
    return regex.sub(replacement, value)


def regex_search(value, pattern, ignorecase=False):
    if not isinstance(value, six.string_types):
        value = str(value)
    flags = _get_regex_flags(ignorecase)
    return bool(re.search(pattern, value, flags))


def regex_substring(value, pattern, result_index=0, ignorecase=False):
    if not isinstance(value, six.string_types):
        value = str(value)
    flags = _get_regex_flags(ignorecase)
    return re.findall(pattern, value, flags)[result_index]

# --- st2common/expressions/functions/time.py

def to_human_time_from_seconds(seconds):
    """
    Given a time value in seconds, this function returns
    a fuzzy version like 3m5s.

    :param time_seconds: Time specified in seconds.
    :type time_seconds: ``int`` or ``long`` or ``float``

    :rtype: ``str``
    """
    assert (
        isinstance(seconds, int)
        or isinstance(seconds, int)
        or isinstance(seconds, float)
    )

    return _get_human_time(seconds)


def _get_human_time(seconds):
    """
    Takes number of seconds as input and returns a string of form '1h3m5s'.

    :param seconds: Number of seconds.
    :type seconds: ``int`` or ``long`` or ``float``

    :rtype: ``str``
    """

    if seconds is None:
        return None

    if seconds == 0:
        return "0s"

    if seconds < 1:
        return "%s\u03BCs" % seconds  # Microseconds

    if isinstance(seconds, float):
        seconds = long_int(round(seconds))  # Let's lose microseconds.

    timedelta = datetime.timedelta(seconds=seconds)
    offset_date = datetime.datetime(1, 1, 1) + timedelta

    years = offset_date.year - 1
    days = offset_date.day - 1
    hours = offset_date.hour
    mins = offset_date.minute
    secs = offset_date.second

    time_parts = [years, days, hours, mins, secs]

    first_non_zero_pos = next((i for i, x in enumerate(time_parts) if x), None)

    if first_non_zero_pos is None:
        return "0s"
    else:
        time_parts = time_parts[first_non_zero_pos:]

    if len(time_parts) == 1:
        return "%ss" % tuple(time_parts)
    elif len(time_parts) == 2:
        return "%sm%ss" % tuple(time_parts)
    elif len(time_parts) == 3:
        return "%sh%sm%ss" % tuple(time_parts)
    elif len(time_parts) == 4:
        return "%sd%sh%sm%ss" % tuple(time_parts)
    elif len(time_parts) == 5:
        return "%sy%sd%sh%sm%ss" % tuple(time_parts)

# --- st2common/expressions/functions/path.py

def basename(path):
    return os.path.basename(path)


def dirname(path):
    return os.path.dirname(path)


# --- st2common/util/jinja.py


def get_filters():
    return {
        "from_json_string": from_json_string,
        "from_yaml_string": from_yaml_string,
        "json_escape": json_escape,
        "to_complex": to_complex,
        "to_json_string": to_json_string,
        "to_yaml_string": to_yaml_string,
        "regex_match": regex_match,
        "regex_replace": regex_replace,
        "regex_search": regex_search,
        "regex_substring": regex_substring,
        "to_human_time_from_seconds": to_human_time_from_seconds,
        "use_none": use_none,
        "basename": basename,
        "dirname": dirname,
    }


def get_jinja_environment(allow_undefined=False, trim_blocks=True, lstrip_blocks=True):
    import jinja2
    import jinja2.sandbox

    undefined = jinja2.Undefined if allow_undefined else jinja2.StrictUndefined
    env = jinja2.sandbox.SandboxedEnvironment(  # nosec
        undefined=undefined, trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks
    )
    env.filters.update(get_filters())
    env.tests["in"] = lambda item, list: item in list
    return env


def main():
    env = get_jinja_environment()
    results = []
    for case in json.load(sys.stdin):
        try:
            text = env.from_string(case["template"]).render(case["context"])
            results.append({"ok": text})
        except Exception as e:  # noqa
            results.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
