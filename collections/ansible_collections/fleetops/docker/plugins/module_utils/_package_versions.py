# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Package version arithmetic for fleetops.docker.engine: rpm/dpkg ordering, pins, yum-style sizes.

Pure functions, no I/O. A package record is a dict with the keys
name, epoch, version, release, arch, repo, size_bytes (see _package_backends).
"""

import re

_RPM_SEGMENT = re.compile(r"~|[0-9]+|[A-Za-z]+")


def _cmp(a, b):
    return (a > b) - (a < b)


def rpmvercmp(a, b):
    """rpm's segment-wise comparison of two version (or release) strings: -1, 0 or 1."""
    if a == b:
        return 0
    left, right = _RPM_SEGMENT.findall(a), _RPM_SEGMENT.findall(b)
    for x, y in zip(left, right):
        if x == "~" or y == "~":
            if x != y:
                return -1 if x == "~" else 1
        elif x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        elif x.isdigit():
            result = _cmp(int(x), int(y))
            if result:
                return result
        elif x != y:
            return _cmp(x, y)
    rest_left, rest_right = left[len(right):], right[len(left):]
    if rest_left and rest_left[0] == "~":
        return -1
    if rest_right and rest_right[0] == "~":
        return 1
    return _cmp(len(rest_left), len(rest_right))


def _deb_order(char):
    if char == "" or char.isdigit():
        return 0
    if char.isalpha():
        return ord(char)
    if char == "~":
        return -1
    return ord(char) + 256


def _char(text, index):
    return text[index] if index < len(text) else ""


def debvercmp(a, b):
    """dpkg's verrevcmp() for one upstream-version or revision string: negative, 0 or positive."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (_char(a, i) and not _char(a, i).isdigit()) or (_char(b, j) and not _char(b, j).isdigit()):
            diff = _deb_order(_char(a, i)) - _deb_order(_char(b, j))
            if diff:
                return diff
            i += 1
            j += 1
        while _char(a, i) == "0":
            i += 1
        while _char(b, j) == "0":
            j += 1
        first_diff = 0
        while _char(a, i).isdigit() and _char(b, j).isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if _char(a, i).isdigit():
            return 1
        if _char(b, j).isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


VERSION_COMPARE = {"rpm": rpmvercmp, "deb": debvercmp}


def compare(family, left, right):
    """Order two package records by (epoch, version, release) with the family's rules."""
    vercmp = VERSION_COMPARE[family]
    result = _cmp(int(left.get("epoch") or 0), int(right.get("epoch") or 0))
    for key in ("version", "release"):
        if not result:
            result = vercmp(left.get(key) or "", right.get(key) or "")
    return _cmp(result, 0)


def sort_records(family, records):
    """Records sorted oldest first."""
    ordered = list(records)
    for i in range(1, len(ordered)):
        j = i
        while j > 0 and compare(family, ordered[j - 1], ordered[j]) > 0:
            ordered[j - 1], ordered[j] = ordered[j], ordered[j - 1]
            j -= 1
    return ordered


def evr(record):
    """version-release as the package manager prints it, with 'epoch:' when the epoch is not 0."""
    text = record["version"]
    if record.get("release"):
        text = "{}-{}".format(text, record["release"])
    if record.get("epoch") not in (None, "", "0", 0):
        text = "{}:{}".format(record["epoch"], text)
    return text


def split_deb_version(full):
    """'1:20.10.24+dfsg1-1+deb12u1' -> ('1', '20.10.24+dfsg1', '1+deb12u1')."""
    epoch, _sep, rest = full.rpartition(":")
    version, sep, release = rest.rpartition("-")
    if not sep:
        version, release = rest, ""
    return epoch or "0", version, release


def matches_pin(record, pin):
    """A pin is either the full [epoch:]version-release or the bare version (any release)."""
    return pin in (evr(record), record["version"], "{}-{}".format(record["version"], record.get("release") or ""))


def pick(family, records, pin=None):
    """Newest record that satisfies the pin (or newest overall); None when nothing matches."""
    candidates = [r for r in records if pin is None or matches_pin(r, pin)]
    return sort_records(family, candidates)[-1] if candidates else None


def human_size(size_bytes):
    """Sizes the way yum prints them ('107 M', '9.6 M', '134 k'): urlgrabber's format_number."""
    if size_bytes is None:
        return None
    number = size_bytes
    symbols = ("", "k", "M", "G", "T", "P")
    depth = 0
    while number > 999 and depth < len(symbols) - 1:
        depth += 1
        number = number / 1024.0
    if depth == 0:
        return str(number)
    digits = 1 if number < 9.95 else 0
    return f"{number:.{digits}f} {symbols[depth]}"
