"""Shared pytest helpers: run a module's main() the way Ansible does and return its JSON result."""
from __future__ import annotations

import json

import pytest
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.testing import patch_module_args


class ModuleResult(dict):
    """The module's JSON result; .rc is 0 for exit_json and 1 for fail_json."""

    rc = 0

    @property
    def warning_texts(self):
        """The warnings' messages (ansible-core 2.19 returns them as structured summaries)."""
        return [w["event"]["msg"] if isinstance(w, dict) else w for w in self.get("warnings", [])]


@pytest.fixture
def run_module(capsys):
    """run_module(module, args, check_mode=False, diff=False, **main_kwargs) -> ModuleResult."""

    def _run(module, args, check_mode=False, diff=False, **main_kwargs):
        module_args = dict(args)
        module_args["_ansible_check_mode"] = check_mode
        module_args["_ansible_diff"] = diff
        capsys.readouterr()
        module_warnings._global_warnings.clear()  # warnings are process-global; each run starts clean
        module_warnings._global_deprecations.clear()
        with patch_module_args(module_args):
            with pytest.raises(SystemExit) as exited:
                module.main(**main_kwargs)
        result = ModuleResult(json.loads(capsys.readouterr().out))
        result.rc = exited.value.code or 0
        return result

    return _run
