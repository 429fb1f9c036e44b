"""Loading a workflow module: a `.py` path or `package.module[:attribute]`.

Every way a module can be wrong becomes a WorkflowLoadError with one line that names the
file (and line) and what to do.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from flow_tui.core.errors import FlowError, WorkflowValidationError
from flow_tui.core.workflow import Workflow
from flow_tui.paths import same_file


class WorkflowLoadError(FlowError):
    """A workflow module could not be loaded."""


def load_workflow(spec: str) -> tuple[Workflow, Path | None]:
    """Load and validate the workflow named by `spec`; returns it and its source file."""
    target, attribute = split_spec(spec)
    if _is_path(target):
        module = _import_file(Path(target))
    else:
        module = _import_module(target)
    workflow = _find_workflow(module, attribute, target)
    try:
        workflow.graph()  # validated once; the run reuses it
    except WorkflowValidationError as exc:
        raise WorkflowValidationError(f"workflow {workflow.name!r} in {target}: {exc}") from exc
    source = getattr(module, "__file__", None)
    return workflow, Path(source) if source else None


def split_spec(spec: str) -> tuple[str, str | None]:
    """`path/to/module.py[:attr]` or `package.module[:attr]` -> (target, attr or None)."""
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail.isidentifier():
        return head, tail
    if sep and head and tail == "":
        raise WorkflowLoadError(f"{spec!r} ends with ':': name the attribute, as in {head}:NAME")
    return spec, None  # no attribute (a colon elsewhere, e.g. a Windows drive, stays)


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec or spec.startswith(".")


def _import_file(path: Path) -> ModuleType:
    if not path.exists():
        raise WorkflowLoadError(f"workflow file {path} does not exist")
    if path.is_dir():
        raise WorkflowLoadError(f"workflow {path} is a folder; give the .py file")
    name = f"flow_tui_workflow_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise WorkflowLoadError(f"cannot load {path} as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    # Siblings of the workflow file import like they would when run as a script.
    folder = str(path.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # KeyboardInterrupt goes through: exit 130
        sys.modules.pop(name, None)
        if isinstance(exc, ImportError) and "relative import" in str(exc):
            raise _relative_import_error(exc, path) from exc
        raise _module_error(exc, str(path), path) from exc
    return module


def _relative_import_error(exc: ImportError, path: Path) -> WorkflowLoadError:
    """A module loaded by its path has no package, so `from . import x` cannot work:
    name the module the way that does (`pkg.mod`, from the folder above `pkg`)."""
    parts = [path.stem]
    folder = path.resolve().parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    at = _location(exc, str(path), path)
    if len(parts) == 1:
        return WorkflowLoadError(
            f"{at}: uses a relative import, but {path.parent} is not a package; add an "
            f"__init__.py to it and launch it as a module (package.{path.stem}), or use "
            "absolute imports"
        )
    dotted = ".".join(parts)
    where = _display(folder)
    return WorkflowLoadError(
        f"{at}: uses a relative import, which needs its package: launch it as a module, "
        f"`flow-tui launch {dotted}`"
        + (" (from this folder)" if where == "." else f" from {where}")
    )


def _import_module(name: str) -> ModuleType:
    if not name or not all(part.isidentifier() for part in name.split(".")):
        raise WorkflowLoadError(
            f"{name!r} is neither a .py file nor a module name like package.module[:attr]"
        )
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise WorkflowLoadError(
                f"no module named {name!r}: check the name, or give the path of a .py file"
            ) from exc
        file = _module_file(name)
        raise _module_error(exc, _display(file) if file else name, file) from exc
    except (Exception, SystemExit) as exc:
        file = _module_file(name)
        raise _module_error(exc, _display(file) if file else name, file) from exc


def _display(file: Path) -> str:
    """`file` relative to the working folder when it is inside it."""
    try:
        return str(file.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(file)


def _module_file(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (Exception, SystemExit):
        return None
    origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _module_error(exc: BaseException, where: str, file: Path | None) -> WorkflowLoadError:
    if isinstance(exc, SyntaxError):
        location = exc.filename or where
        detail = (exc.msg or "invalid syntax").strip()
        return WorkflowLoadError(f"syntax error in {location}, line {exc.lineno}: {detail}")
    at = _location(exc, where, file)
    if isinstance(exc, ModuleNotFoundError):
        return WorkflowLoadError(
            f"{at}: cannot import {exc.name!r}: no such module is installed or on the path"
        )
    if isinstance(exc, ImportError):
        return WorkflowLoadError(f"{at}: {exc}")
    if isinstance(exc, SystemExit):
        return WorkflowLoadError(f"{at}: called sys.exit({exc.code}) while being imported")
    return WorkflowLoadError(f"{at}: raised {type(exc).__name__} while being imported: {exc}")


_MACHINERY = (str(Path(__file__).resolve()), str(Path(importlib.__file__).resolve().parent))


def _location(exc: BaseException, where: str, file: Path | None) -> str:
    """`where, line N`: the line of the workflow module that raised (or the import that led
    to it); `where (at FILE, line N)` when the error came from elsewhere."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith("<") and not f.filename.startswith(_MACHINERY)
    ]
    if not frames:
        return where
    if file is not None:
        own = [f for f in frames if same_file(f.filename, file)]
        if own:
            return f"{where}, line {own[-1].lineno}"
    last = frames[-1]
    return f"{where} (at {last.filename}, line {last.lineno})"


def _find_workflow(module: ModuleType, attribute: str | None, spec: str) -> Workflow:
    where = getattr(module, "__file__", None) or spec
    if attribute is not None:
        if not hasattr(module, attribute):
            raise WorkflowLoadError(f"{where} has no attribute {attribute!r}")
        found = getattr(module, attribute)
        if callable(found) and not isinstance(found, Workflow):
            try:
                found = found()
            except Exception as exc:
                raise WorkflowLoadError(
                    f"{where}: calling {attribute}() raised {type(exc).__name__}: {exc}"
                ) from exc
        if not isinstance(found, Workflow):
            raise WorkflowLoadError(
                f"{where}: {attribute!r} is a {type(found).__name__}, not a flow_tui.Workflow"
            )
        return found
    named = getattr(module, "workflow", None)
    if isinstance(named, Workflow):
        return named
    found_all = {id(v): (k, v) for k, v in vars(module).items() if isinstance(v, Workflow)}
    if not found_all:
        raise WorkflowLoadError(
            f"{where} defines no flow_tui.Workflow; define one named `workflow`"
        )
    if len(found_all) > 1:
        names = ", ".join(sorted(k for k, _ in found_all.values()))
        raise WorkflowLoadError(
            f"{where} defines several workflows ({names}); pick one with {spec}:NAME"
        )
    return next(iter(found_all.values()))[1]
