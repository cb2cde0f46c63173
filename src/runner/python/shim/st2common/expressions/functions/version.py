# Ported from StackStorm 3.9.0 st2common/st2common/expressions/functions/version.py
# Copyright 2020 The StackStorm Authors. Copyright 2019 Extreme Networks, Inc.
# Licensed under the Apache License, Version 2.0.
#
# st2-rs: upstream uses the semver package (3.x: Version.parse, compare, match, bump_*) from
# StackStorm's environment; _Version below does the same on SemVer 2.0.0 strings, so that
# packs need not install it.
import re

__all__ = [
    "version_compare",
    "version_more_than",
    "version_less_than",
    "version_equal",
    "version_match",
    "version_bump_major",
    "version_bump_minor",
    "version_bump_patch",
    "version_strip_patch",
]

_REGEX = re.compile(
    r"""
    ^
    (?P<major>0|[1-9]\d*)
    \.
    (?P<minor>0|[1-9]\d*)
    \.
    (?P<patch>0|[1-9]\d*)
    (?:-(?P<prerelease>
        (?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)
        (?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*
    ))?
    (?:\+(?P<build>
        [0-9a-zA-Z-]+
        (?:\.[0-9a-zA-Z-]+)*
    ))?
    $
    """,
    re.VERBOSE,
)


def _cmp(a, b):
    return (a > b) - (a < b)


def _cmp_prerelease(a, b):
    if a == b:
        return 0
    if a is None:
        return 1
    if b is None:
        return -1
    for left, right in zip(a.split("."), b.split(".")):
        left_num, right_num = left.isdigit(), right.isdigit()
        if left_num and right_num:
            result = _cmp(int(left), int(right))
        elif left_num:
            result = -1
        elif right_num:
            result = 1
        else:
            result = _cmp(left, right)
        if result:
            return result
    return _cmp(len(a.split(".")), len(b.split(".")))


class _Version(object):
    def __init__(self, major, minor=0, patch=0, prerelease=None, build=None):
        self.major = int(major)
        self.minor = int(minor)
        self.patch = int(patch)
        self.prerelease = prerelease
        self.build = build

    @classmethod
    def parse(cls, version):
        if isinstance(version, bytes):
            version = version.decode("utf-8")
        if not isinstance(version, str):
            raise TypeError("not expecting type '%s'" % type(version))
        match = _REGEX.match(version)
        if match is None:
            raise ValueError("%s is not valid SemVer string" % version)
        return cls(**match.groupdict())

    def compare(self, other):
        if not isinstance(other, _Version):
            other = _Version.parse(other)
        result = _cmp(
            (self.major, self.minor, self.patch), (other.major, other.minor, other.patch)
        )
        return result or _cmp_prerelease(self.prerelease, other.prerelease)

    def match(self, match_expr):
        prefix = match_expr[:2]
        if prefix in (">=", "<=", "==", "!="):
            match_version = match_expr[2:]
        elif prefix and prefix[0] in (">", "<"):
            prefix = prefix[0]
            match_version = match_expr[1:]
        elif match_expr and match_expr[0] in "0123456789":
            prefix = "=="
            match_version = match_expr
        else:
            raise ValueError(
                "match_expr parameter should be in format <op><ver>, "
                "where <op> is one of "
                "['<', '>', '==', '<=', '>=', '!=']. "
                "You provided: %r" % match_expr
            )

        possibilities = {
            ">": (1,),
            "<": (-1,),
            "==": (0,),
            "!=": (-1, 1),
            ">=": (0, 1),
            "<=": (-1, 0),
        }[prefix]
        return self.compare(match_version) in possibilities

    def bump_major(self):
        return _Version(self.major + 1, 0, 0)

    def bump_minor(self):
        return _Version(self.major, self.minor + 1, 0)

    def bump_patch(self):
        return _Version(self.major, self.minor, self.patch + 1)

    def __str__(self):
        version = "%d.%d.%d" % (self.major, self.minor, self.patch)
        if self.prerelease:
            version += "-%s" % self.prerelease
        if self.build:
            version += "+%s" % self.build
        return version


def version_compare(value, pattern):
    return _Version.parse(value).compare(pattern)


def version_more_than(value, pattern):
    return version_compare(value, pattern) == 1


def version_less_than(value, pattern):
    return version_compare(value, pattern) == -1


def version_equal(value, pattern):
    return version_compare(value, pattern) == 0


def version_match(value, pattern):
    return _Version.parse(value).match(pattern)


def version_bump_major(value):
    return str(_Version.parse(value).bump_major())


def version_bump_minor(value):
    return str(_Version.parse(value).bump_minor())


def version_bump_patch(value):
    return str(_Version.parse(value).bump_patch())


def version_strip_patch(value):
    sv = _Version.parse(value)
    return f"{sv.major}.{sv.minor}"
