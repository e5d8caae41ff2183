# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting docker's data directories without touching anything mounted below them.

A volume bind-mounted under /var/lib/docker/volumes/<name>/_data (NFS, EBS), or a running container's overlay
mount, lives on another filesystem: purge refuses while any mount is below the directory or a container shim
runs (live-restore keeps containers after the service stops), and the deletion itself never crosses st_dev.
"""

import os
import stat

PROC_ROOT = "/proc"
# /proc/<pid>/comm is cut at 15 characters: containerd-shim-runc-v2 reads "containerd-shim".
SHIM_COMMS = ("containerd-shim", "docker-containe")


class PurgeError(Exception):
    pass


def _unescape(field):
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    out, index = [], 0
    while index < len(field):
        if field[index] == "\\" and field[index + 1:index + 4].isdigit():
            out.append(chr(int(field[index + 1:index + 4], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


def mounts_below(path, proc_root=None):
    """Mount points strictly below `path`, from <proc>/self/mountinfo."""
    root = os.path.realpath(path).rstrip("/") + "/"
    try:
        with open(os.path.join(proc_root or PROC_ROOT, "self", "mountinfo")) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    found = set()
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            point = _unescape(fields[4])
            if point.startswith(root):
                found.add(point)
    return sorted(found)


def running_shims(proc_root=None):
    """[(pid, comm)] of running container shims."""
    proc = proc_root or PROC_ROOT
    shims = []
    try:
        entries = os.listdir(proc)
    except OSError:
        return shims
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "comm")) as handle:
                comm = handle.read().strip()
        except OSError:
            continue
        if comm.startswith(SHIM_COMMS):
            shims.append((int(entry), comm))
    return sorted(shims)


def purge_blockers(paths, proc_root=None):
    """Why the data directories must not be deleted now; [] when nothing blocks."""
    problems = []
    for path in paths:
        if os.path.lexists(path):
            mounted = mounts_below(path, proc_root)
            if mounted:
                problems.append("still mounted below {}: {}".format(path, ", ".join(mounted)))
    shims = running_shims(proc_root)
    if shims:
        problems.append("container shims still run (containers outlive the service with live-restore): {}".format(
            ", ".join(f"pid {pid} ({comm})" for pid, comm in shims)))
    return problems


def delete_data(path):
    """Delete a data directory without leaving its filesystem; a mount point itself is emptied and kept.

    Raises PurgeError naming what was left because it is on another filesystem."""
    top = os.lstat(path)
    if not stat.S_ISDIR(top.st_mode):
        os.unlink(path)
        return
    left, emptied = [], []
    for current, dirs, files in os.walk(path, topdown=True):
        emptied.append(current)
        for name in list(dirs):
            full = os.path.join(current, name)
            info = os.lstat(full)
            if not stat.S_ISDIR(info.st_mode):  # a symlink to a directory: remove the link only
                os.unlink(full)
                dirs.remove(name)
            elif info.st_dev != top.st_dev:
                left.append(full)
                dirs.remove(name)
        for name in files:
            os.unlink(os.path.join(current, name))
    for current in reversed(emptied):  # children were appended after their parents
        if current == path or any(kept.startswith(current + "/") for kept in left):
            continue
        os.rmdir(current)
    if not os.path.ismount(path) and not left:
        os.rmdir(path)
    if left:
        raise PurgeError("left {} alone: on another filesystem (a mount below the data directory)".format(", ".join(left)))
