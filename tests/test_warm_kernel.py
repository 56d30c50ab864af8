"""The report's kernel starts while the simulation runs (`sim.report.execute.report_kernel`).

It must behave as the kernel papermill would start: the notebook runs in it in the output's folder, the
libraries it imported ahead sit in `sys.modules` but never in the notebook's namespace, a module that fails
to preload leaves the kernel working, and the kernel is gone once the block ends, however it ends.
"""

from __future__ import annotations

import json

import nbformat
import psutil
import pytest

from sim.report.execute import execute_notebook, report_kernel


def _notebook(path, *sources: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x: int = 1", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def _outputs(path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(o.get("text", "")) for c in nb["cells"] for o in c.get("outputs", [])]


def test_a_notebook_runs_in_the_kernel_started_ahead_with_its_libraries_loaded_but_not_named(tmp_path):
    source = _notebook(
        tmp_path / "nb.ipynb",
        "import os, sys\nprint(os.getpid(), 'sim.report.plots' in sys.modules, 'plots' in dir(), os.getcwd())",
        "print(x * 7)",
    )
    log = tmp_path / "kernel.log"
    with report_kernel(tmp_path, log_file=log, preload=("sim.report.plots",)) as kernel:
        assert kernel is not None and kernel.has_kernel
        pid = kernel.provisioner.pid
        assert psutil.pid_exists(pid)
        execute_notebook(source, tmp_path / "out.ipynb", {"x": 6}, log_file=log, kernel=kernel)
        assert psutil.pid_exists(pid), "the kernel is the caller's to shut down, not papermill's"
    first, second = _outputs(tmp_path / "out.ipynb")
    kernel_pid, loaded, named, cwd = first.split()
    assert int(kernel_pid) == pid  # the notebook ran in the kernel started ahead, not in a new one
    assert loaded == "True" and named == "False"
    assert cwd == str(tmp_path)
    assert second.strip() == "42"  # the parameters cell was injected as usual
    assert not _alive(pid)


def test_a_module_that_fails_to_preload_leaves_a_working_kernel(tmp_path):
    source = _notebook(tmp_path / "nb.ipynb", "print(x + 1)")
    log = tmp_path / "kernel.log"
    with report_kernel(tmp_path, log_file=log, preload=("no_such_module_for_sim",)) as kernel:
        execute_notebook(source, tmp_path / "out.ipynb", {"x": 1}, log_file=log, kernel=kernel)
        pid = kernel.provisioner.pid
    assert _outputs(tmp_path / "out.ipynb") == ["2\n"]
    assert "preload of no_such_module_for_sim failed" in log.read_text(encoding="utf-8")
    assert not _alive(pid)


def test_the_kernel_is_shut_down_when_the_work_before_the_notebook_fails(tmp_path):
    with pytest.raises(ValueError, match="simulation failed"):
        with report_kernel(tmp_path, log_file=tmp_path / "kernel.log") as kernel:
            pid = kernel.provisioner.pid
            assert psutil.pid_exists(pid)
            raise ValueError("simulation failed")
    assert not _alive(pid)


def test_a_kernel_that_died_before_the_notebook_is_replaced_by_a_fresh_one(tmp_path):
    source = _notebook(tmp_path / "nb.ipynb", "import os\nprint(os.getpid())")
    log = tmp_path / "kernel.log"
    with report_kernel(tmp_path, log_file=log) as kernel:
        dead = kernel.provisioner.pid
        psutil.Process(dead).kill()
        psutil.Process(dead).wait(10)
        execute_notebook(source, tmp_path / "out.ipynb", {}, log_file=log, kernel=kernel)
    (ran_in,) = _outputs(tmp_path / "out.ipynb")
    assert int(ran_in) != dead


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
