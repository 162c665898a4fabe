#!/usr/bin/python3
"""Runs a command, passes its stdout/stderr through, then prints 'peak_rss_mib N' as its last
line: the largest resident set of the command or any of its descendants (RUSAGE_CHILDREN)."""
import resource
import subprocess
import sys

rc = subprocess.call(sys.argv[1:])
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("peak_rss_mib %.1f" % (peak_kib / 1024.0))
sys.exit(rc)
