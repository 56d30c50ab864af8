"""The playbook: quoted figures agree with the simulator, chapters have their parts and their notebooks,
links resolve, scenario fields named in the text exist, and the glossary covers every term used."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from sim.learn import figures as pf
from sim.learn.exercises import EXERCISES, check_answer, expected_answer, is_correct
from sim.model.kpis import KPI_NAMES
from sim.model.result import STAGES
from sim.model.scenario import PURPOSES, Scenario

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "playbook"
LEARN = ROOT / "notebooks" / "learn"
CHAPTERS = sorted(PLAYBOOK.glob("[0-9][0-9]_*.md"))
NOTEBOOKS = sorted(LEARN.glob("[0-9][0-9]_*.ipynb"))
SECTIONS = [
    "## Goals",
    "## The idea",
    "## How the model expresses it",
    "## Worked example",
    "## Pitfalls",
    "## Exercises",
]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


# -- quoted figures ----------------------------------------------------------------------------------


def test_quoted_figures_match_the_simulator():
    problems = pf.check()
    assert not problems, "figures drifted; run `python -m sim.learn.figures --write`:\n" + "\n".join(problems)


def test_every_registered_figure_is_quoted_and_every_chapter_quotes_some():
    quoted = {name for path in CHAPTERS for name, _ in pf.marks(path.read_text(encoding="utf-8"))}
    assert set(pf.FIGURES) - quoted == set(), "registered figures no chapter quotes"
    for path in CHAPTERS:
        assert pf.marks(path.read_text(encoding="utf-8")), f"{path.name} quotes no simulated figure"


def test_marks_are_found_and_rewritten(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("CAC is <!--fig:ch3_cac-->1 KRW<!--/fig-->.", encoding="utf-8")
    assert pf.marks(page.read_text()) == [("ch3_cac", "1 KRW")]
    assert pf.check([page]) and pf.write([page]) == 1
    assert pf.check([page]) == []
    page.write_text("<!--fig:no_such_figure-->1<!--/fig-->", encoding="utf-8")
    assert "not registered" in pf.check([page])[0]


def test_the_cli_check_exits_zero(capsys):
    assert pf.main(["--check"]) == 0
    assert "agree" in capsys.readouterr().out


# -- chapters and notebooks --------------------------------------------------------------------------


def test_nine_chapters_each_with_a_notebook_of_the_same_name():
    assert len(CHAPTERS) >= 9
    assert [p.stem for p in CHAPTERS] == [p.stem for p in NOTEBOOKS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_its_parts_and_links_its_notebook(path: Path):
    text = path.read_text(encoding="utf-8")
    positions = [text.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions), (
        f"{path.name} lacks {[s for s, p in zip(SECTIONS, positions, strict=True) if p < 0]}"
    )
    assert positions == sorted(positions), f"{path.name}: sections out of order"
    assert "<details>" in text and "Solutions" in text, f"{path.name}: exercises need solutions"
    assert f"../notebooks/learn/{path.stem}.ipynb" in LINK.findall(text)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_links_back_to_its_chapter(path: Path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    assert f"../../playbook/{path.stem}.md" in LINK.findall(first.source)


def _markdown_sources() -> list[tuple[Path, str]]:
    out = [(p, p.read_text(encoding="utf-8")) for p in sorted(PLAYBOOK.glob("*.md"))]
    for p in NOTEBOOKS:
        nb = nbformat.read(p, as_version=4)
        out += [(p, c.source) for c in nb.cells if c.cell_type == "markdown"]
    return out


def test_no_dead_links():
    dead = []
    for path, text in _markdown_sources():
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            if not (path.parent / target.split("#")[0]).exists():
                dead.append(f"{path.name} -> {target}")
    assert not dead, dead


# -- scenario fields named in the chapters -------------------------------------------------------------


def _field_exists(dotted: str) -> bool:
    model = Scenario
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return False
        annotation = fields[part].annotation
        if part == "channels":  # channels.<id>.field
            if i + 1 < len(parts) and parts[i + 1] in ("<id>", "*", "kakao_crm", "search_ads"):
                parts.pop(i + 1)
            model = fields["channels"].annotation.__args__[-1]
            continue
        model = annotation if isinstance(annotation, type) else None
        if model is None:
            return i == len(parts) - 1 or part in ("purpose_split", "channel_split", "totals")
    return True


SECTION_NAMES = tuple(Scenario.model_fields)
FIELD = re.compile(r"`((?:" + "|".join(SECTION_NAMES) + r")\.[A-Za-z_<>*.]+)`")


def test_scenario_fields_named_in_chapters_exist():
    missing = []
    for path in CHAPTERS:
        for dotted in FIELD.findall(path.read_text(encoding="utf-8")):
            dotted = dotted.rstrip(".").replace(".*", "")
            if dotted.startswith("budget.channel_split") or dotted.startswith("budget.purpose_split"):
                continue
            if not _field_exists(dotted):
                missing.append(f"{path.name}: {dotted}")
    assert not missing, missing


def test_field_check_catches_a_typo():
    assert _field_exists("retention.first_party_data_share")
    assert _field_exists("channels.<id>.reach.max_reach")
    assert not _field_exists("retention.first_party_share")


# -- glossary ---------------------------------------------------------------------------------------------


def _glossary() -> tuple[set[str], set[str]]:
    """English and Korean aliases of every glossary row."""
    english, korean = set(), set()
    for line in (PLAYBOOK / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("English", "") or set(cells[0]) <= set("-: "):
            continue
        english |= {_norm(a) for a in cells[0].split(" / ")}
        english |= {_norm(a) for cell in cells[3:] for a in re.findall(r"`([^`]+)`", cell)}  # names in `sim`
        korean |= {_norm(a) for a in cells[1].split(" / ")}
    return english, korean


def _norm(term: str) -> str:
    return re.sub(r"\s+", " ", term.replace("`", "").replace("*", "").strip().lower())


def _covered(term: str, aliases: set[str]) -> bool:
    t = _norm(term)
    return t in aliases or t.rstrip("s") in aliases or re.sub(r"\s*\(.*?\)", "", t).strip() in aliases


def _bold_terms() -> set[str]:
    """Terms the chapters bold (bold lead-ins of a pitfall or a step end with punctuation: not terms)."""
    terms = set()
    for path in CHAPTERS:
        for bold in re.findall(r"\*\*(.+?)\*\*", path.read_text(encoding="utf-8")):
            if not re.search(r"[.?:!]$", bold.strip()):
                terms.add(bold)
    return terms


def test_glossary_covers_model_names_and_chapter_terms():
    english, korean = _glossary()
    terms = set(KPI_NAMES) | set(STAGES) | set(PURPOSES) | _bold_terms()
    missing = sorted(t for t in terms if not _covered(t, english))
    assert not missing, f"terms missing from playbook/glossary.md: {missing}"
    assert len(korean) > 50


REPORT_PREFIXES = ("kpi.", "stage.", "purpose.", "lever.", "funnel.", "chapter.")


@pytest.mark.skipif(not (ROOT / "sim" / "i18n" / "en.json").exists(), reason="the report's catalog is not there yet")
def test_glossary_covers_the_reports_terms():
    en = json.loads((ROOT / "sim" / "i18n" / "en.json").read_text(encoding="utf-8"))
    ko = json.loads((ROOT / "sim" / "i18n" / "ko.json").read_text(encoding="utf-8"))
    english, korean = _glossary()
    keys = [k for k in en if k.startswith(REPORT_PREFIXES[:5]) and not k.endswith(".reading") and "{" not in en[k]]
    assert len(keys) > 20
    missing_en = sorted(f"{k}: {en[k]}" for k in keys if not _covered(en[k], english))
    missing_ko = sorted(f"{k}: {ko[k]}" for k in keys if k in ko and not _covered(ko[k], korean))
    assert not missing_en and not missing_ko, (missing_en, missing_ko)


# -- exercises ---------------------------------------------------------------------------------------------


def test_every_notebook_exercise_exists_and_every_exercise_is_used():
    used = set()
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            used |= set(re.findall(r'check_answer\("([a-z0-9_]+)"', cell.source))
    assert used == set(EXERCISES)


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_expected_answer_is_accepted(key: str, capsys):
    answer = expected_answer(key)
    assert is_correct(key, answer)
    check_answer(key, answer)
    assert capsys.readouterr().out.startswith("Correct")


def test_wrong_and_missing_answers_get_a_hint(capsys):
    check_answer("ch3_q2", 12345)
    assert capsys.readouterr().out.startswith("Not quite: CAC is")
    check_answer("ch1_q1", "sideways")
    assert "one of 'front', 'back'" in capsys.readouterr().out
    check_answer("ch1_q1", None)
    assert capsys.readouterr().out.startswith("No answer yet")
    with pytest.raises(KeyError, match="unknown exercise"):
        check_answer("ch99_q1", 1)


def test_numeric_exercises_match_the_chapter_solutions():
    assert expected_answer("ch5_q2") == pytest.approx(5.0)
    assert expected_answer("ch3_q1") == pytest.approx(float(pf.compute("ch3_orders_per_new")))
    assert expected_answer("ch8_q2") == pytest.approx(float(pf.compute("ch8_reach_one_channel").replace(",", "")))
    assert expected_answer("ch9_q1") == pytest.approx(float(pf.compute("ch9_best_front_saturated").rstrip("%")) / 100)
