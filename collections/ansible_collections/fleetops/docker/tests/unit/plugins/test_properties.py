"""Property tests (hypothesis): no input ever makes the code crash.

- image references, platform strings and version pins: any text parses or raises the documented ValueError;
- every module, with any values (right type, wrong type, hostile text) for any of its options: the module ends
  with exit_json or fail_json (a message), never with an exception, which Ansible would show as a traceback.

The modules run against harmless stand-ins only: the fake Engine API on a socket in /tmp (never the real
daemon), files under a temporary directory, and a run_command that answers every package command with nothing.
"""
from __future__ import annotations

import contextlib
import decimal
import io
import json
import os
import shutil
import tempfile
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _package_versions as versions,
)
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _platforms as platforms,
)
from ansible_collections.fleetops.docker.plugins.modules import (
    daemon_config,
    engine,
    image_facts,
    image_pull,
)
from ansible_collections.fleetops.docker.tests.unit.plugins.fake_docker_api import (
    FakeDockerAPI,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "fleetops-hypothesis"))  # not inside the collection

FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
MODULE_RUNS = settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))

# Text that has broken parsers before, mixed into every generated string.
HOSTILE = st.sampled_from([
    "", " ", "-c /tmp/x.conf", "--config=/x", "../../etc/passwd", "x/../evil", "\x00", "\n", "é", "💥",
    "busybox@sha256:" + "a" * 64, "localhost:5000/a:b", "linux/arm64/v8", "1.0", "20.10.25-1.amzn2.0.4",
    "unix:///nonexistent.sock", "http://u:p@h", "{", "[]", "0", "-1", "nan", "inf", "true", "A" * 300,
])
TEXT = st.one_of(st.text(max_size=40), HOSTILE)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
                    max_leaves=12)


# ---------------------------------------------------------------- parsers
REFERENCE_PARTS = st.lists(st.one_of(st.sampled_from(["docker.io", "quay.io", "localhost:5000", "[::1]:5000", "Reg.io"]),
                                     st.from_regex(r"[a-z0-9]{1,8}([._-]{1,2}[a-z0-9]{1,4})?", fullmatch=True),
                                     TEXT), min_size=1, max_size=4)


@FAST
@given(st.one_of(TEXT, REFERENCE_PARTS.map("/".join),
                 st.tuples(REFERENCE_PARTS.map("/".join), st.sampled_from([":", "@", ":latest@", "@sha256:"]), TEXT).map("".join)))
def test_image_references_parse_or_raise_value_error(text):
    try:
        parsed = refs.parse_docker_ref(text)
    except ValueError as exc:
        assert str(exc)
        return
    assert refs.parse_docker_ref(str(parsed)) == parsed
    assert parsed.familiar


@FAST
@given(st.one_of(TEXT, st.lists(st.sampled_from(["linux", "windows", "amd64", "arm64", "arm", "v7", "v8", "x86_64",
                                                 "aarch64", "armhf", "386", "", "v2"]), max_size=4).map("/".join)),
       st.sampled_from([None, "linux/amd64", "linux/arm64/v8"]))
def test_platform_strings_parse_or_raise_value_error(text, host):
    try:
        parsed = platforms.parse(text, host=platforms.parse(host) if host else None)
    except ValueError as exc:
        assert str(exc)
        return
    assert platforms.parse(str(parsed)) == parsed
    assert isinstance(platforms.compatible(parsed, parsed), bool)


VERSION_TEXT = st.one_of(TEXT, st.from_regex(r"([0-9]:)?[0-9a-z.~^+]{1,12}(-[0-9a-z.~^+]{1,8})?", fullmatch=True))


@FAST
@given(VERSION_TEXT, VERSION_TEXT, VERSION_TEXT)
def test_version_comparison_and_pins_never_crash(left, right, pin):
    for compare in (versions.rpmvercmp, versions.debvercmp):
        forward, backward = compare(left, right), compare(right, left)
        assert (forward > 0) - (forward < 0) == (backward < 0) - (backward > 0)  # only the sign is the contract
        assert compare(left, left) == 0
    record = {"name": "docker", "epoch": "0", "version": left, "release": right, "arch": "x86_64"}
    assert isinstance(versions.matches_pin(record, pin), bool)


# ---------------------------------------------------------------- modules
class Captured(Exception):
    pass


def argument_spec_of(module, **main_kwargs):
    """The argument_spec the module builds, captured before AnsibleModule validates anything."""
    seen = {}

    def capture(self, argument_spec, *args, **kwargs):
        seen.update(argument_spec)
        raise Captured

    with mock.patch.object(basic.AnsibleModule, "__init__", capture), patch_module_args({}):
        with contextlib.suppress(Captured):
            module.main(**main_kwargs)
    assert seen, f"{module.__name__} built no AnsibleModule"
    return seen


def not_infinite(value):
    try:
        return not decimal.Decimal(value).is_infinite()
    except (decimal.DecimalException, TypeError, ValueError):
        return True


def typed_value(option):
    kind = option.get("type", "str")
    by_type = {
        "str": TEXT, "path": TEXT, "raw": JSON, "bool": st.one_of(st.booleans(), TEXT),
        # ansible-core 2.19's own int check raises OverflowError for "inf" (upstream, before any module code runs)
        "int": st.one_of(st.integers(-5, 5), st.integers(-(2 ** 70), 2 ** 70), TEXT),
        "float": st.one_of(st.floats(), st.integers(-5, 5), TEXT),
        "list": st.lists(JSON, max_size=4), "dict": st.dictionaries(TEXT, JSON, max_size=4),
    }
    strategy = by_type.get(kind, JSON)
    if option.get("elements") == "dict" and option.get("options"):
        strategy = st.one_of(strategy, st.lists(st.fixed_dictionaries(
            {}, optional={name: typed_value(sub) for name, sub in option["options"].items()}), max_size=3))
    if option.get("choices"):
        strategy = st.one_of(st.sampled_from(option["choices"]), strategy)
    strategy = st.one_of(strategy, JSON)
    return strategy.filter(not_infinite) if kind == "int" else strategy


def module_args(spec, fixed):
    optional = {name: typed_value(option) for name, option in spec.items() if name not in fixed}
    return st.fixed_dictionaries({}, optional=optional).map(lambda args: dict(args, **fixed))


def run(module, args, **main_kwargs):
    """Run main(); return the JSON result. Any exception but SystemExit propagates and fails the test."""
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    out = io.StringIO()
    with patch_module_args(dict(args, _ansible_check_mode=args.pop("_check", False))), contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit):
            module.main(**main_kwargs)
    return json.loads(out.getvalue())


def assert_clean_ending(result):
    assert "exception" not in result and "Traceback" not in json.dumps(result)
    if result.get("failed"):
        assert isinstance(result.get("msg"), str) and result["msg"].strip()


@pytest.fixture(scope="module")
def fake_engine():
    fake = FakeDockerAPI().start()
    fake.registry("docker.io").push("library/busybox", "latest", ["linux/amd64", "linux/arm64/v8"])
    fake.add_local_image("alpine:latest", "linux/amd64")
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def scratch():
    path = tempfile.mkdtemp(prefix="secprop-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("module", [image_pull, image_facts], ids=["image_pull", "image_facts"])
def test_image_modules_end_with_a_result_for_any_options(module, fake_engine, scratch):
    spec = argument_spec_of(module)
    fixed = {"docker_host": fake_engine.docker_host, "docker_config": os.path.join(scratch, "no-config.json")}

    @MODULE_RUNS
    @given(module_args(spec, fixed), st.booleans())
    def check(args, check_mode):
        args.setdefault("images", ["busybox"])
        args["_check"] = check_mode
        with mock.patch.object(image_pull.time, "sleep", lambda seconds: None):
            assert_clean_ending(run(module, args))

    check()


def test_daemon_config_ends_with_a_result_for_any_options(scratch):
    spec = argument_spec_of(daemon_config)
    counter = iter(range(10 ** 9))

    @MODULE_RUNS
    @given(module_args(spec, {}), st.booleans(), st.sampled_from([None, b"{}", b'{"debug": true}', b"[1]", b"\xff", b"{"]))
    def check(args, check_mode, existing):
        directory = os.path.join(scratch, f"dc{next(counter)}")
        os.makedirs(directory)
        path = os.path.join(directory, "daemon.json")
        if existing is not None:
            with open(path, "wb") as handle:
                handle.write(existing)
        args["path"] = path
        args["_check"] = check_mode
        args.pop("owner", None) if args.get("owner") not in (None, "root", "0") else None
        assert_clean_ending(run(daemon_config, args))

    check()


def test_engine_ends_with_a_result_for_any_options(scratch):
    root = os.path.join(scratch, "engine")
    os.makedirs(root)
    with open(os.path.join(root, "os-release"), "w") as handle:
        handle.write('ID="amzn"\nVERSION_ID="2"\n')
    system = engine.System(os_release=os.path.join(root, "os-release"),
                           data_dirs=(os.path.join(root, "lib-docker"), os.path.join(root, "lib-containerd")),
                           lock_files={name: [os.path.join(root, f"{name}.pid")] for name in ("yum", "dnf", "apt")},
                           clock=lambda: 0.0, sleep=lambda seconds: None)
    spec = argument_spec_of(engine, system=system)
    answers = st.sampled_from([(0, "", ""), (1, "", "Error: boom"), (100, "", "E: Unable to locate package x"),
                               (0, "Complete!\n", ""), (5, "package docker is not installed\n", "")])

    @MODULE_RUNS
    @given(module_args(spec, {}), st.booleans(), answers)
    def check(args, check_mode, answer):
        args["_check"] = check_mode
        with mock.patch.object(basic.AnsibleModule, "run_command", lambda self, *a, **k: answer), \
                mock.patch.object(engine.data_purge if hasattr(engine, "data_purge") else engine, "PROC_ROOT", root, create=True):
            assert_clean_ending(run(engine, args, system=system))

    check()
