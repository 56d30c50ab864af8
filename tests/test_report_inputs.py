"""Hostile and bad input to the report: escaped user strings, output names that stay in the folder, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import SAMPLES

from sim.errors import UserInputError
from sim.model.scenario import load_scenario, scenario_slug
from sim.report.execute import check_parameters
from sim.report.render import render_report, report_notebook_path

SCRIPT = "<script>alert(1)</script>"
CLIENT = f"{SCRIPT} \"Quoted\" & 'single' 하늘 스킨케어"
HOSTILE_NAME = "../../x"


def hostile_yaml(folder: Path, name: str = HOSTILE_NAME) -> Path:
    """The early-stage sample, shrunk to 12 months, with hostile names and description."""
    data = yaml.safe_load((SAMPLES / "early_stage_d2c.yaml").read_text(encoding="utf-8"))
    data["name"] = name
    data["client"] = CLIENT
    data["description"] = f"{SCRIPT} <img src=x onerror=alert(2)> **bold** [link](javascript:alert(3)) 한국어 설명"
    data["market"]["size"] = 40000
    data["market"]["initially_aware"] = 400
    data["market"]["existing"] = {"customers": 90, "loyal": 12, "lapsed": 25}
    data["simulation"]["horizon_months"] = 12
    path = folder / "hostile.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    out = root / "deep" / "out"
    result = render_report(hostile_yaml(root), out, "ko", replications=4, client_name=None)
    return root, out, result


def test_hostile_name_stays_inside_the_output_folder(hostile):
    root, out, result = hostile
    for path in (result.html, result.notebook, result.data_dir):
        assert path.parent == out.resolve(), path
    assert result.html.name == "x.ko.html"
    assert sorted(p.name for p in out.iterdir()) == ["x.ko.html", "x.ko.ipynb", "x.ko_data"]
    assert not list(root.glob("x.*")) and not list((root / "deep").glob("x.*"))


class _Page(HTMLParser):
    """The tags and the visible text of a page."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_user_strings_are_escaped_and_shown_as_text(hostile):
    _, _, result = hostile
    page = result.html.read_text(encoding="utf-8")
    parsed = _Page(page)
    text = "".join(parsed.text)
    assert [tag for tag, _ in parsed.tags if tag in ("script", "iframe", "object", "a")] == []
    assert not any(k.startswith("on") for _, attrs in parsed.tags for k in attrs), "event handler attribute"
    assert [a.get("src") for tag, a in parsed.tags if tag == "img" and not a.get("src", "").startswith("data:")] == []
    assert CLIENT in text, "the client name is shown as text, Korean included"
    assert "<img src=x onerror=alert(2)>" in text and "[link](javascript:alert(3))" in text
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_client_name_override_is_escaped(tmp_path):
    path = hostile_yaml(tmp_path, name="Override test")
    override = '<b onmouseover="x">고객</b>'
    result = render_report(path, tmp_path / "o", "en", replications=2, client_name=override)
    page = result.html.read_text(encoding="utf-8")
    assert override not in page
    assert override in "".join(_Page(page).text)
    assert result.summary["client"] == override


@pytest.mark.parametrize("name", ["../../x", "/etc/passwd", "..", ".hidden", "a/b\\c", "  ", "…"])
def test_slug_is_never_a_path(name, tmp_path):
    data = yaml.safe_load((SAMPLES / "early_stage_d2c.yaml").read_text(encoding="utf-8"))
    data["name"] = name
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    slug = scenario_slug(load_scenario(path))
    assert slug and "/" not in slug and "\\" not in slug and not slug.startswith(".")
    assert (tmp_path / f"{slug}.html").resolve().parent == tmp_path.resolve()


def test_unknown_parameter_is_an_error():
    nb = report_notebook_path()
    with pytest.raises(UserInputError, match="did you mean 'lang'"):
        check_parameters(nb, {"lnag": "ko"})
    check_parameters(nb, {"lang": "ko", "seed": 3, "client_name": "", "output_dir": "", "replications": 1})


def test_notebook_parameters_are_literals_with_help():
    import papermill

    params = papermill.inspect_notebook(str(report_notebook_path()))
    assert list(params) == ["scenario_path", "lang", "replications", "seed", "output_dir", "client_name"]
    for p in params.values():
        assert p["help"], p["name"]
        assert p["inferred_type_name"] in ("str", "int"), p


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"lang": "fr"}, "--lang"),
        ({"replications": 0}, "--replications"),
        ({"seed": -3}, "--seed"),
        ({"timeout": 0}, "--timeout"),
        ({"kernel_name": "no-such-kernel"}, "--kernel"),
    ],
)
def test_bad_arguments_raise_user_input_errors(kwargs, where, tmp_path):
    lang = kwargs.pop("lang", "en")
    with pytest.raises(UserInputError) as info:
        render_report(SAMPLES / "early_stage_d2c.yaml", tmp_path / "out", lang, **kwargs)
    assert info.value.location == where
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_scenario_is_a_user_input_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmarket: {size: -1}\n", encoding="utf-8")
    with pytest.raises(UserInputError):
        render_report(bad, tmp_path / "out")


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path):
    cases = [
        ["--lang", "fr"],
        ["--kernel", "no-such-kernel"],
        ["--replications", "0"],
    ]
    for extra in cases:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "sim",
                "report",
                str(SAMPLES / "early_stage_d2c.yaml"),
                "--out",
                str(tmp_path),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, (extra, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "report",
            str(SAMPLES / "early_stage_d2c.yaml"),
            "--out",
            str(tmp_path),
            "--lnag",
            "ko",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "--lnag" in proc.stderr


def test_data_json_is_written_beside_the_report(hostile):
    _, _, result = hostile
    meta = json.loads((result.data_dir / "meta.json").read_text(encoding="utf-8"))
    assert meta["scenario_name"] == HOSTILE_NAME and meta["slug"] == "x"
    assert meta["timings"]["optimize"] >= 0


def test_failed_run_leaves_nothing_behind(tmp_path, monkeypatch):
    """A cell that runs past the timeout stops the report with a ReportError and no partial files.

    The report's own cells may all finish within the 1 s timeout on a fast machine, so the notebook run
    here is a copy with one slow cell added (the test does not depend on the machine's speed)."""
    import nbformat

    import sim.report.render
    from sim.errors import ReportError

    slow = nbformat.read(report_notebook_path(), as_version=4)
    slow.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(10)"))
    slow_path = tmp_path / "strategy_report.ipynb"
    nbformat.write(slow, slow_path)
    monkeypatch.setattr(sim.report.render, "report_notebook_path", lambda: slow_path)
    out = tmp_path / "out"
    with pytest.raises(ReportError, match="longer than 1 s"):
        render_report(hostile_yaml(tmp_path, name="Timeout test"), out, "en", replications=2, timeout=1)
    assert list(out.iterdir()) == []


def test_the_default_kernel_runs_in_the_interpreter_that_runs_sim(tmp_path, monkeypatch):
    """An installed `python3` kernelspec naming another Python (the system's, another venv's) must not make a
    report import another environment's `sim`; a kernel named with `--kernel` keeps its own interpreter."""
    from sim.report.execute import ReportKernelManager

    for name in ("python3", "elsewhere"):
        spec = tmp_path / "kernels" / name
        spec.mkdir(parents=True)
        argv = ["/elsewhere/bin/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    commands = {}
    for name in ("python3", "elsewhere"):
        manager = ReportKernelManager(kernel_name=name)
        manager._launch_args = {}  # what starting a kernel sets before it formats the command
        commands[name] = manager.format_kernel_cmd()
    assert commands["python3"][0] == sys.executable and commands["python3"][1:3] == ["-m", "ipykernel_launcher"]
    assert commands["elsewhere"][0] == "/elsewhere/bin/python"
