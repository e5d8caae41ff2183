#!/usr/bin/python3
"""An ansible_python_interpreter that runs python3 with the same arguments and stdin, then appends the peak RSS of
that process (its VmHWM, as getrusage reports it for a waited-for child, in KiB) to /var/tmp/bench-rss.log."""
import resource
import subprocess
import sys
import time

rc = subprocess.call(["/usr/bin/python3", *sys.argv[1:]])
with open("/var/tmp/bench-rss.log", "a") as log:
    log.write(f"{time.time():.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
sys.exit(rc)
