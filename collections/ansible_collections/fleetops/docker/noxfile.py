# Copyright (c) fleetops engineering
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's gates that antsibull-nox runs are declared in antsibull-nox.toml; see the Makefile for all gates."""

import sys

try:
    import antsibull_nox
except ImportError:
    print("antsibull-nox must be installed in the Python environment that runs nox (make venv)")
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()
