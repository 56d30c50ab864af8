"""The learning notebooks as stored, and the exercises behind their check cells.

Stored notebooks: executed, with outputs, figures that match the chapters, a "how to use" Markdown cell
first, a `parameters` cell with `lang`, texts in both languages, a static plot before every slider, sliders
with readable labels, plots with titles, axis labels and legends, and every exercise of the chapter with a
check cell and a solution behind a button. `pytest notebooks/learn/` (nbval-lax, from pyproject's addopts)
re-executes them; these checks read the stored files and take a second or two.

Exercises: answers are read as people write them, in English or Korean; a right figure in another form is
right, a wrong form is called a wrong form.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from sim.learn import exercises as ex
from sim.learn import figures as pf
from sim.learn.answers import FormProblem, read_number, read_numbers
from sim.learn.exercises import EXERCISES, expected_answer, judge

LEARN = Path(__file__).resolve().parents[1] / "notebooks" / "learn"
NOTEBOOKS = sorted(LEARN.glob("[0-9][0-9]_*.ipynb"))
PLAYBOOK = LEARN.parents[1] / "playbook"


def _code(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _chapter(path: Path) -> int:
    return int(path.name[:2])


def test_there_is_a_notebook_per_chapter():
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in sorted(PLAYBOOK.glob("[0-9][0-9]_*.md"))]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_with_outputs_and_no_errors(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        assert cell.execution_count is not None, f"{path.name}: a code cell was never executed"
        assert all(o.output_type != "error" for o in cell.outputs), f"{path.name}: stored error output"
        assert all(o.get("name") != "stderr" for o in cell.outputs), (
            f"{path.name}: stored warning:\n{cell.source[:200]}"
        )
    assert any("image/png" in o.get("data", {}) for c in _code(nb) for o in c.outputs), "no stored plot"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_opens_with_how_to_then_a_lang_parameter(path: Path):
    nb = nbformat.read(path, as_version=4)
    first, params = nb.cells[0], nb.cells[1]
    assert first.cell_type == "markdown"
    assert "How to use this notebook" in first.source and "이 노트북 사용법" in first.source
    for link in re.findall(r"\]\(([^)]+\.md)\)", first.source):  # the chapter in both languages, the indexes
        assert (path.parent / link).resolve().is_file(), f"{path.name}: broken link {link}"
    assert f"../../playbook/{path.stem}.md" in first.source
    assert f"../../playbook/ko/{path.stem}.md" in first.source
    assert params.metadata.get("tags") == ["parameters"]
    tree = ast.parse(params.source)
    assert [t.id for node in tree.body for t in node.targets] == ["lang"]
    assert all(isinstance(node.value, ast.Constant) for node in tree.body), "literal values only"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_text_is_in_both_languages(path: Path):
    """Prose lives in `say(en=..., ko=...)` cells with hidden input; the Korean differs from the English and
    is Korean; every label of a plot goes through `tr(en, ko)`."""
    nb = nbformat.read(path, as_version=4)
    texts = [c for c in _code(nb) if c.source.startswith("say(")]
    assert len(texts) >= 4
    for cell in texts:
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True
        call = ast.parse(cell.source).body[0].value
        en, ko = (kw.value.value for kw in call.keywords)
        assert en != ko and re.search(r"[가-힣]", ko), cell.source[:120]
    for cell in _code(nb):
        for word in ("title", "xlabel", "ylabel"):
            for m in re.finditer(rf"\b{word}=(\"[^\"]|f\")", cell.source):
                raise AssertionError(f"{path.name}: {word} without tr(): {cell.source[m.start() : m.start() + 60]}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_checked_figures_are_the_chapters(path: Path):
    nb = nbformat.read(path, as_version=4)
    checked = [c for c in _code(nb) if c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, f"{path.name}: no cell marked # NBVAL_CHECK_OUTPUT"
    for cell in checked:
        for line in _text(cell).splitlines():
            name, value = line.split(maxsplit=1)
            assert value == pf.compute(name), f"{path.name}: stored {name} = {value!r}; rebuild the notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_sliders_have_a_static_fallback_and_readable_labels(path: Path):
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in _code(nb)]
    widget = [i for i, s in enumerate(sources) if "interact(" in s]
    assert widget, f"{path.name}: no slider"
    for i in widget:
        assert sources[i].startswith("if interact is None:"), "a widget cell must run without ipywidgets"
        assert "FloatSlider(" not in sources[i] and "IntSlider(" not in sources[i], "use slider(): whole labels"
    first_static = next(i for i, s in enumerate(sources) if "plt.show()" in s and "interact(" not in s)
    assert first_static < widget[0], f"{path.name}: the static plot must come before the sliders"
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    described = [m["state"] for m in state.values() if m["state"].get("description") and "Slider" in m["model_name"]]
    assert described, f"{path.name}: no slider state stored"
    for widget_state in described:
        style = state[widget_state["style"].removeprefix("IPY_MODEL_")]["state"]
        assert style.get("description_width") not in (None, ""), f"{path.name}: {widget_state['description']!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_of_the_chapter_has_a_check_cell(path: Path):
    """The chapter's numbered exercises, one by one: a question cell and a check cell, in order."""
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in _code(nb)]
    questions, solutions = ex.chapter_exercises(_chapter(path), "en")
    assert questions and set(questions) == set(solutions), f"{path.name}: every exercise needs its solution"
    checks = [re.search(r'check_answer\("([a-z0-9_]+)"', s) for s in sources]
    keys = [m.group(1) for m in checks if m]
    assert keys == [f"ch{_chapter(path)}_q{n}" for n in sorted(questions)], keys
    for key in keys:
        i = next(i for i, s in enumerate(sources) if f'check_answer("{key}"' in s)
        assert sources[i - 1] == f'show_question("{key}")', f"{path.name}: {key} has no question above its check"
        assert sources[i].startswith("answer = None"), f"{path.name}: {key}'s check cell must not hold the answer"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_prints_an_exercise_answer(path: Path):
    """The stored outputs never show a solution unasked: check cells say 'No answer yet' and offer a button."""
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        if "check_answer(" in cell.source:
            assert _text(cell).startswith("No answer yet"), _text(cell)
            assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    buttons = [m["state"] for m in state.values() if m["model_name"] == "ButtonModel"]
    assert buttons and all(b["description"] == "Show the solution" for b in buttons)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_plot_has_title_labels_and_legend(path: Path):
    nb = nbformat.read(path, as_version=4)
    for cell in _code(nb):
        s = cell.source
        if not re.search(r"plt\.subplots|\.plot(\.|\()", s):
            continue
        assert "plt.show()" in s, f"{path.name}: a plot cell must end with plt.show()"
        for word in ("title", "xlabel", "ylabel", "legend"):
            assert word in s, f"{path.name}: a plot without {word}:\n{s[:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_slider_plots_were_drawn_without_errors(path: Path):
    """An error inside an `interact` callback does not fail the cell; it lands in the Output widget's
    stored state, which is checked here (every slider drew its plot at the default values)."""
    nb = nbformat.read(path, as_version=4)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs = [m["state"].get("outputs", []) for m in state.values() if m["model_name"] == "OutputModel"]
    drawn = [out for out in outputs if out]  # the solution buttons' outputs stay empty until clicked
    assert drawn, f"{path.name}: no widget output stored"
    for out in outputs:
        assert all(o["output_type"] != "error" for o in out), f"{path.name}: a slider callback failed"
    assert all(any("image/png" in o.get("data", {}) for o in out) for out in drawn), f"{path.name}: no plot"


# -- the exercises -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("20000", 20000, None),
        ("20,000", 20000, None),
        ("2만", 20000, None),
        ("2만 원", 20000, "money"),
        ("2만원", 20000, "money"),
        ("₩20,000", 20000, "money"),
        ("20,000 KRW", 20000, "money"),
        ("2만 4,800원", 24800, "money"),
        ("1억 3,240만 원", 132_400_000, "money"),
        ("3.5만", 35000, None),
        ("20k", 20000, None),
        ("1.8 million", 1_800_000, None),
        ("74%", 74, "percent"),
        ("74 퍼센트", 74, "percent"),
        ("0.74", 0.74, None),
        ("약 2천 명", 2000, "count"),
        ("−0.54", -0.54, None),
        ("２만", 20000, None),
    ],
)
def test_numbers_are_read_as_people_write_them(text, value, unit):
    reading = read_number(text)
    assert reading.value == pytest.approx(value) and reading.unit == unit


@pytest.mark.parametrize("text", ["1,5", "abc", "2만 3만 원 %", ""])
def test_unreadable_or_ambiguous_numbers_are_form_problems(text):
    with pytest.raises(FormProblem):
        read_number(text)


def test_checklist_points_are_read_in_both_languages():
    assert read_numbers("3, 4, 5") == read_numbers("3번, 4번과 5번") == read_numbers([5, 4, 3]) == [3, 4, 5]


@pytest.mark.parametrize(
    ("key", "answers"),
    [
        ("ch1_q1", ["back", "back-end", "Back-end", "백엔드", "백엔드 마케팅", "백엔드입니다"]),
        ("ch2_q1", ["activation", "첫 구매 유도", "활성화"]),
        ("ch3_q2", [24000, "24,000", "2만 4천", "2만 4천 원", "₩24,000", "24,000 KRW", "24000원"]),
        ("ch7_q1", [20000, "20,000", "2만", "2만 원"]),
        ("ch8_q1", [74, "74", "74%", 0.74, "0.74", "74 퍼센트"]),
        ("ch4_q1", [1.98, "1.98%", 0.0198]),
        ("ch6_q1", [0.52, "0.52", "52%", 52]),
        ("ch6_q2", ["one-time, hesitating", "한 번 구매·망설임", "망설임"]),
        ("ch8_q4", ["3, 4, 5", [3, 4, 5], "3번, 4번, 5번"]),
    ],
)
def test_right_answers_in_any_form_and_language_are_right(key, answers):
    for answer in answers:
        verdict = judge(key, answer)
        assert verdict.correct, (answer, verdict.en)
        assert verdict.ko.startswith("정답입니다")


@pytest.mark.parametrize(
    ("key", "answer", "says"),
    [
        ("ch3_q2", "24", "thousands"),  # the figure in thousands of KRW
        ("ch3_q2", "24%", "percentage"),  # a unit that is not the question's
        ("ch3_q2", "about twenty thousand", "could not read"),
        ("ch3_q2", "2,40", "ambiguous"),
        ("ch9_q2", "4.1", "2 decimals"),  # rounded more than the question asks
        ("ch1_q1", "sideways", "one of 'front', 'back'"),
        ("ch1_q1", 3, "one of 'front', 'back'"),
        ("ch8_q4", "three and five", "numbers of the points"),
        ("ch8_q4", "7", "1 to 6"),
    ],
)
def test_a_wrong_form_is_called_a_wrong_form(key, answer, says):
    verdict = judge(key, answer)
    assert not verdict.correct and verdict.form, verdict.en
    assert "the form, not the content" in verdict.en and says in verdict.en
    assert "형식" in verdict.ko


@pytest.mark.parametrize(
    ("key", "answer"), [("ch3_q2", 12345), ("ch1_q1", "front"), ("ch8_q1", "66%"), ("ch9_q2", 4.5)]
)
def test_a_wrong_answer_gets_the_hint_not_a_form_complaint(key, answer):
    verdict = judge(key, answer)
    assert not verdict.correct and not verdict.form
    assert verdict.en.startswith("Not quite") and verdict.ko.startswith("아쉽습니다")


def test_a_tempting_wrong_choice_says_why():
    verdict = judge("ch3_q3", "existing")
    assert not verdict.correct and "by construction" in verdict.en


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_exercise_accepts_its_answer_and_has_the_chapters_question_and_solution(key: str):
    answer = expected_answer(key)
    assert judge(key, answer).correct, (key, answer)
    chapter, number = (int(x) for x in re.fullmatch(r"ch(\d+)_q(\d+)", key).groups())
    questions, solutions = ex.chapter_exercises(chapter, "en")
    assert number in questions and number in solutions
    assert ex.question(key, "en").startswith(f"**{number}.** {questions[number][:30]}")
    assert "<!--fig" not in ex.solution(key, "en")
    if (PLAYBOOK / "ko").is_dir():  # the Korean course gives the question and solution in Korean
        assert re.search(r"[가-힣]", ex.question(key, "ko")) and re.search(r"[가-힣]", ex.solution(key, "ko"))


def test_computed_answers_follow_the_notebooks_tables():
    table = ex.ch1_table()
    assert set(expected_answer("ch1_q3")) == {
        k for k in ("new_customers", "cac", "clv") if table[k].is_monotonic_decreasing
    }
    quality = ex.ch4_table()
    first = expected_answer("ch4_q3")
    assert quality.loc[first, "cac"] < 20000 and all(quality.loc[q, "cac"] >= 20000 for q in quality.index if q < first)
    assert expected_answer("ch8_q3") >= pf.monthly_reach(pf.learning_scenario().budget.channel_split["front"])


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_in_korean(path: Path, monkeypatch):
    """nbval runs the stored (English) course; here every notebook runs with lang "ko" (from SIM_LANG, as
    `python -m sim lab --lang ko` sets it): no error, Korean texts, Korean labels in the check cells."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("SIM_LANG", "ko")
    client = NotebookClient(
        nb,
        timeout=90,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        shutdown_kernel="immediate",
    )
    client.execute()
    for cell in _code(nb):
        assert all(o.output_type != "error" for o in cell.outputs), cell.source[:200]
    texts = [o["data"]["text/markdown"] for c in _code(nb) for o in c.outputs if "text/markdown" in o.get("data", {})]
    assert texts and all(re.search(r"[가-힣]", t) for t in texts)
    checks = [_text(c) for c in _code(nb) if "check_answer(" in c.source]
    assert checks and all(t.startswith("아직 답이 없습니다") for t in checks)
