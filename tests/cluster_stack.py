"""deploy/cluster/stack.py loaded as a module (it is the operator's script, not a package)."""

import importlib.util
from types import ModuleType

from aurora_pipelines.settings import REPO_DIR


def stack_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stack", REPO_DIR / "deploy/cluster/stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
