#!/usr/bin/env python3
"""What StackStorm's own registrars accept in a directory of packs, without its database.

Runs the validation steps of `st2common/bootstrap/base.py` (pack metadata, config schema) and
`st2common/bootstrap/actionsregistrar.py` (`_register_action`: pack field, `ActionAPI`
validation with the friendlier parameter-name message, runner lookup,
`validators/api/action.py` parameter checks) with StackStorm's own code, on every pack
directory of PACKS_DIR, and prints one JSON object per line:

    {"pack": dir name, "kind": "pack"|"config_schema"|"action", "file": path, "error": null|text}

The runner types and their parameters come from the `runner.yaml` files of the StackStorm
source tree. Nothing is written anywhere.

With --example-configs, each pack's `<dir>.yaml.example` is also validated against its config
schema as `--register-configs` validates `configs/<dir>.yaml` (`validate_config_against_schema`),
kind "config".

Usage: python upstream_registration_oracle.py ST2_SOURCE_DIR PACKS_DIR [--example-configs]

ST2_SOURCE_DIR is a checkout of StackStorm/st2 (tag v3.9.0). The interpreter needs what
st2common imports for these modules (see scripts/measure_registration.py, which builds such a
virtualenv under target/).
"""

import glob
import json
import os
import re
import sys


def main():
    st2_source, packs_dir = sys.argv[1], sys.argv[2]
    example_configs = "--example-configs" in sys.argv[3:]
    sys.path.insert(0, os.path.join(st2_source, "st2common"))

    import jsonschema
    import yaml

    from st2common.constants.meta import ALLOWED_EXTS
    from st2common.content.loader import MetaLoader
    from st2common.models.api.action import ActionAPI
    from st2common.models.api.pack import ConfigSchemaAPI, PackAPI
    from st2common.util.pack import get_pack_metadata, get_pack_ref_from_metadata
    from st2common.util.pack import validate_config_against_schema
    import st2common.validators.api.action as action_validator

    runners = {}
    for path in glob.glob(os.path.join(st2_source, "contrib/runners/*/runner.yaml")):
        with open(path) as fd:
            for runner in yaml.safe_load(fd):
                runners[runner["name"]] = runner.get("runner_parameters", {}) or {}

    meta_loader = MetaLoader()

    def emit(pack, kind, file, error):
        print(json.dumps({"pack": pack, "kind": kind, "file": file, "error": error}))

    def register_pack(pack_name, pack_dir):
        content = get_pack_metadata(pack_dir=pack_dir)
        content["ref"] = get_pack_ref_from_metadata(
            metadata=content, pack_directory_name=pack_name
        )
        content["path"] = pack_dir
        PackAPI(**content).validate()

    def register_config_schema(pack_name, path):
        values = meta_loader.load(path)
        if not values:
            raise ValueError('Config schema "%s" is empty and invalid.' % (path))
        ConfigSchemaAPI(pack=pack_name, attributes=values).validate()

    def register_action(pack, pack_dir, action):
        content = meta_loader.load(action)
        pack_field = content.get("pack", None)
        if not pack_field:
            content["pack"] = pack
            pack_field = pack
        if pack_field != pack:
            raise Exception(
                'Model is in pack "%s" but field "pack" is different: %s'
                % (pack, pack_field)
            )
        content["metadata_file"] = os.path.relpath(action, pack_dir)
        action_api = ActionAPI(**content)
        try:
            action_api.validate()
        except jsonschema.ValidationError as e:
            msg = str(e)
            if "does not match any of the regexes: " in msg:
                match = re.search("'(.+?)' does not match any of the regexes", msg)
                name = match.groups()[0] if match else "unknown"
                raise jsonschema.ValidationError(
                    'Parameter name "%s" is invalid. Valid characters for parameter name '
                    "are [a-zA-Z0-0_].\n\n%s" % (name, msg)
                )
            raise
        if action_api.runner_type not in runners:
            raise ValueError("RunnerType %s is not found." % (action_api.runner_type))
        ref = "%s.%s" % (pack, action_api.name)
        action_validator._validate_parameters(
            ref, action_api.parameters, runners[action_api.runner_type]
        )
        ActionAPI.to_model(action_api)

    def first_line(error):
        return "%s: %s" % (type(error).__name__, str(error).split("\n")[0])

    for pack_name in sorted(os.listdir(packs_dir)):
        pack_dir = os.path.join(packs_dir, pack_name)
        manifest = os.path.join(pack_dir, "pack.yaml")
        if not os.path.isdir(pack_dir) or not os.path.isfile(manifest):
            continue
        try:
            register_pack(pack_name, pack_dir)
            emit(pack_name, "pack", manifest, None)
        except Exception as e:  # noqa: B902 - as the registrar catches it
            emit(pack_name, "pack", manifest, first_line(e))
        schema = os.path.join(pack_dir, "config.schema.yaml")
        schema_ok = False
        if os.path.isfile(schema):
            try:
                register_config_schema(pack_name, schema)
                emit(pack_name, "config_schema", schema, None)
                schema_ok = True
            except Exception as e:  # noqa: B902
                emit(pack_name, "config_schema", schema, first_line(e))
        example = os.path.join(pack_dir, pack_name + ".yaml.example")
        if example_configs and os.path.isfile(example):
            try:
                with open(example, encoding="utf-8") as fd:
                    values = yaml.safe_load(fd) or {}
                if not isinstance(values, dict):
                    raise ValueError("%r is not of type 'object'" % (values,))
                if schema_ok:
                    validate_config_against_schema(
                        meta_loader.load(schema), values, example, pack_name
                    )
                emit(pack_name, "config", example, None)
            except Exception as e:  # noqa: B902
                emit(pack_name, "config", example, first_line(e))
        actions = []
        for ext in ALLOWED_EXTS:
            actions.extend(glob.glob(os.path.join(pack_dir, "actions", "*" + ext)))
        for action in sorted(actions):
            if os.path.basename(action) in ("config" + ext for ext in ALLOWED_EXTS):
                continue
            try:
                register_action(pack_name, pack_dir, action)
                emit(pack_name, "action", action, None)
            except Exception as e:  # noqa: B902
                emit(pack_name, "action", action, first_line(e))


if __name__ == "__main__":
    main()
