"""Version ordering, pins and yum-style sizes used by fleetops.docker.engine."""

import shutil
import subprocess

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _package_versions as v,
)


def rec(version, release="", epoch="0"):
    return {"name": "p", "epoch": epoch, "version": version, "release": release}


@pytest.mark.parametrize("left, right, expected", [
    ("1.1.11", "1.1.4", 1),
    ("1.1.4", "1.1.11", -1),
    ("20.10.25", "20.10.25", 0),
    ("1.amzn2.0.4", "1.amzn2", 1),
    ("1.0~rc1", "1.0", -1),
    ("1.0", "1.0~rc1", 1),
    ("1.0a", "1.0", 1),
    ("a", "1", -1),
    ("1.7.11", "1.6.8", 1),
])
def test_rpmvercmp(left, right, expected):
    assert v.rpmvercmp(left, right) == expected


DEB_PAIRS = [
    ("1.6.20~ds1", "1.6.20", "lt"),
    ("1+deb12u3", "1+deb12u2", "gt"),
    ("20.10.24+dfsg1", "20.10.24+dfsg1", "eq"),
    ("1.0+b1", "1.0", "gt"),
    ("2.0.2", "2.0.10", "lt"),
    ("1.0a", "1.0+", "lt"),
    ("1.0~~", "1.0~", "lt"),
]


@pytest.mark.parametrize("left, right, relation", DEB_PAIRS)
def test_debvercmp(left, right, relation):
    result = v.debvercmp(left, right)
    assert {"lt": result < 0, "gt": result > 0, "eq": result == 0}[relation]


@pytest.mark.skipif(not shutil.which("dpkg"), reason="needs dpkg as the reference implementation")
@pytest.mark.parametrize("left, right, relation", DEB_PAIRS)
def test_debvercmp_agrees_with_real_dpkg(left, right, relation):
    assert subprocess.call(["dpkg", "--compare-versions", left, relation, right]) == 0


def test_compare_uses_epoch_first_then_version_then_release():
    assert v.compare("deb", rec("1.0", "1", epoch="1"), rec("2.0", "1")) == 1
    assert v.compare("rpm", rec("20.10.25", "1.amzn2.0.4"), rec("20.10.25", "1.amzn2.0.3")) == 1
    assert v.compare("rpm", rec("20.10.17", "1.amzn2.0.1"), rec("20.10.25", "1.amzn2.0.4")) == -1


def test_sort_pick_and_pins():
    records = [rec("20.10.25", "1.amzn2.0.4"), rec("20.10.17", "1.amzn2.0.1"), rec("20.10.25", "1.amzn2.0.1")]
    assert [v.evr(r) for r in v.sort_records("rpm", records)] == [
        "20.10.17-1.amzn2.0.1", "20.10.25-1.amzn2.0.1", "20.10.25-1.amzn2.0.4"]
    assert v.evr(v.pick("rpm", records)) == "20.10.25-1.amzn2.0.4"
    assert v.evr(v.pick("rpm", records, "20.10.25")) == "20.10.25-1.amzn2.0.4"
    assert v.evr(v.pick("rpm", records, "20.10.25-1.amzn2.0.1")) == "20.10.25-1.amzn2.0.1"
    assert v.pick("rpm", records, "20.10.99") is None


def test_evr_and_debian_split():
    assert v.split_deb_version("20.10.24+dfsg1-1+deb12u1+b6") == ("0", "20.10.24+dfsg1", "1+deb12u1+b6")
    assert v.split_deb_version("1:2.0-3") == ("1", "2.0", "3")
    assert v.split_deb_version("2.6") == ("0", "2.6", "")
    assert v.evr(rec("1.13.1", "209.el7", epoch="2")) == "2:1.13.1-209.el7"
    assert v.evr(rec("2.6")) == "2.6"


@pytest.mark.parametrize("size_bytes, shown", [
    (112197632, "107 M"), (178257920, "170 M"), (137216, "134 k"), (140288, "137 k"), (10066329, "9.6 M"),
    (512, "512"), (None, None),
])
def test_human_size_matches_yum_tables(size_bytes, shown):
    assert v.human_size(size_bytes) == shown
