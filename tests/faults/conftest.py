import os

import faultlib
import pytest


@pytest.fixture(scope="session")
def fleet():
    """flt-registry with the fault fixtures, fresh hosts, and the bookworm host's first converge started.

    The bookworm host converges in the background while the trixie tests run; its tests call fleet.bookworm()."""
    faultlib.start_registry()
    faultlib.start_hosts()
    state = Fleet(faultlib.start("playbooks/site.yml", "flt-bookworm1"))
    yield state
    if state.base.poll() is None:
        faultlib.kill(state.base)
    if not os.environ.get("FLT_KEEP"):
        faultlib.remove_hosts()
        faultlib.remove_registry()


class Fleet:
    def __init__(self, base):
        self.base = base
        self.base_run = None

    def bookworm(self):
        if self.base_run is None:
            self.base_run = faultlib.finish(self.base)
        assert self.base_run.rc == 0, f"the bookworm host's first converge failed: {self.base_run.failures()}"
        return "flt-bookworm1"


def pytest_terminal_summary(terminalreporter):
    if faultlib.FAULTS:
        terminalreporter.write_line(f"faults injected: {len(faultlib.FAULTS)} "
                                    f"({'; '.join(fault for _test, fault in faultlib.FAULTS)})")
    if faultlib.SECRETS_CHECKED:
        terminalreporter.write_line(f"secrets found: {len(faultlib.SECRETS_FOUND)} "
                                    f"(in {len(faultlib.SECRETS_CHECKED)} places checked)")
