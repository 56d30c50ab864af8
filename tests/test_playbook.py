"""The playbook, in English (playbook/) and Korean (playbook/ko/): quoted figures agree with the simulator in
each language's format, chapters have their parts in order and link their notebooks, links and the `sim`
names in the text resolve, scenario fields named in the text exist, and each glossary covers the terms its
chapters use."""

from __future__ import annotations

import importlib
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
NOTEBOOKS = sorted(LEARN.glob("[0-9][0-9]_*.ipynb"))
FOLDERS = {"en": PLAYBOOK, "ko": PLAYBOOK / "ko"}
CHAPTERS = {lang: sorted(folder.glob("[0-9][0-9]_*.md")) for lang, folder in FOLDERS.items()}
ALL_CHAPTERS = [(lang, p) for lang, paths in CHAPTERS.items() for p in paths]
PAGES = [(lang, p) for lang, folder in FOLDERS.items() for p in sorted(folder.glob("*.md"))]
# the parts of a chapter, in order, and the summary of its solutions, in each language
SECTIONS = {
    "en": [
        "## Goals",
        "## The idea",
        "## How the model expresses it",
        "## Worked example",
        "## Pitfalls",
        "## Exercises",
    ],
    "ko": [
        "## 이 장의 목표",
        "## 핵심 아이디어",
        "## 모델로 옮기면",
        "## 예제로 풀어 보기",
        "## 자주 하는 실수",
        "## 연습 문제",
    ],
}
SOLUTIONS = {"en": "<summary>Solutions</summary>", "ko": "<summary>풀이</summary>"}
NOTEBOOK_LINK = {"en": "../notebooks/learn/{stem}.ipynb", "ko": "../../notebooks/learn/{stem}.ipynb"}
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _ids(item: tuple[str, Path]) -> str:
    return f"{item[0]}-{item[1].stem}"


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# -- quoted figures ----------------------------------------------------------------------------------


def test_quoted_figures_match_the_simulator_in_both_languages():
    problems = pf.check()
    assert not problems, "figures drifted; run `python -m sim.learn.figures --write`:\n" + "\n".join(problems)
    checked = {pf.language_of(p) for p in pf.chapters()}
    assert checked == {"en", "ko"}, f"the drift check covers {checked}, not both languages"


def test_every_registered_figure_is_quoted_and_every_chapter_quotes_some():
    quoted = {name for _, path in ALL_CHAPTERS for name, _ in pf.marks(_text(path))}
    assert set(pf.FIGURES) - quoted == set(), "registered figures no chapter quotes"
    for _, path in ALL_CHAPTERS:
        assert pf.marks(_text(path)), f"{path} quotes no simulated figure"


@pytest.mark.parametrize("path", CHAPTERS["en"], ids=lambda p: p.stem)
def test_korean_chapter_quotes_every_figure_of_the_english_one(path: Path):
    korean = FOLDERS["ko"] / path.name
    english = {name for name, _ in pf.marks(_text(path))}
    missing = english - {name for name, _ in pf.marks(_text(korean))}
    assert not missing, f"ko/{path.name} does not quote {sorted(missing)}"


def test_one_number_two_ways_of_writing_it():
    assert pf.won_ko(2_400_000) == "240만 원"
    assert pf.won_ko(24_800) == "2만 4,800원"
    assert pf.won_ko(132_400_000) == "1억 3,240만 원"
    assert pf.won_ko(60) == "60원" and pf.won_ko(0) == "0원" and pf.won_ko(-9_400_000) == "-940만 원"
    money, millions = pf.krw(24_812), pf.mkrw(132_449_000)
    assert (money.text("en"), money.text("ko")) == ("24,800 KRW", "2만 4,800원")
    assert (millions.text("en"), millions.text("ko")) == ("132.4 million KRW", "1억 3,240만 원")
    assert pf.pct(0.765).text("ko") == pf.pct(0.765).text("en") == "76.5%"
    assert pf.num(2090.4).text("ko") == "2,090"
    with pytest.raises(ValueError, match="lang"):
        money.text("fr")


def test_every_registered_figure_reads_as_the_same_number_in_both_languages():
    """The Korean text is the English number rewritten (만/억 groups), never a different rounding."""
    for name in pf.FIGURES:
        en, ko = pf.compute(name, "en"), pf.compute(name, "ko")
        assert _number_en(en) == pytest.approx(_number_ko(ko)), f"{name}: {en!r} against {ko!r}"


def _number_en(text: str) -> float:
    scale = 1e6 if "million" in text else 1.0
    return float(re.sub(r"[^0-9.\-]", "", text)) * scale


def _number_ko(text: str) -> float:
    total, sign = 0.0, -1.0 if text.startswith("-") else 1.0
    for count, unit in re.findall(r"([\d,.]+)(조|억|만)?", text.lstrip("-")):
        total += float(count.replace(",", "")) * {"조": 1e12, "억": 1e8, "만": 1e4, "": 1.0}[unit]
    return sign * total


def test_marks_are_found_and_rewritten_in_the_language_of_their_folder(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("CAC is <!--fig:ch3_cac-->1 KRW<!--/fig-->.", encoding="utf-8")
    assert pf.marks(page.read_text()) == [("ch3_cac", "1 KRW")]
    assert pf.check([page]) and pf.write([page]) == 1
    assert pf.check([page]) == []
    assert "KRW" in page.read_text()
    (tmp_path / "ko").mkdir()
    korean = tmp_path / "ko" / "x.md"
    korean.write_text(f"CAC는 <!--fig:ch3_cac-->{pf.compute('ch3_cac', 'en')}<!--/fig-->입니다.", encoding="utf-8")
    assert pf.language_of(korean) == "ko"
    assert pf.check([korean]), "an English-formatted figure in a Korean page must count as drifted"
    assert pf.write([korean]) == 1 and pf.check([korean]) == []
    assert pf.compute("ch3_cac", "ko") in korean.read_text() and "KRW" not in korean.read_text()
    page.write_text("<!--fig:no_such_figure-->1<!--/fig-->", encoding="utf-8")
    assert "not registered" in pf.check([page])[0]


def test_the_cli_check_exits_zero(capsys):
    assert pf.main(["--check"]) == 0
    assert "agree" in capsys.readouterr().out


def test_korean_pages_write_money_the_korean_way():
    """No English money formats leak into the Korean course (figures, and numbers typed as inputs)."""
    for _, path in [p for p in PAGES if p[0] == "ko"]:
        text = re.sub(r"`[^`]*`", "", _text(path))  # code may name KRW (the currency field)
        for pattern in ("KRW", "million", r"\d,\d{3},\d{3}"):  # no \b: Hangul is a word character
            assert not re.search(pattern, text), f"{path.name}: {pattern!r} in Korean text"


# -- chapters and notebooks --------------------------------------------------------------------------


def test_nine_chapters_in_each_language_each_with_a_notebook_of_the_same_name():
    assert len(CHAPTERS["en"]) >= 9
    for lang in FOLDERS:
        assert [p.stem for p in CHAPTERS[lang]] == [p.stem for p in NOTEBOOKS], lang
    assert (FOLDERS["ko"] / "README.md").exists() and (FOLDERS["ko"] / "glossary.md").exists()


@pytest.mark.parametrize("item", ALL_CHAPTERS, ids=_ids)
def test_chapter_has_its_parts_and_links_its_notebook(item: tuple[str, Path]):
    lang, path = item
    text = _text(path)
    positions = [text.find(s) for s in SECTIONS[lang]]
    assert all(p >= 0 for p in positions), (
        f"{lang}/{path.name} lacks {[s for s, p in zip(SECTIONS[lang], positions, strict=True) if p < 0]}"
    )
    assert positions == sorted(positions), f"{lang}/{path.name}: sections out of order"
    details = text.find("<details>", positions[-1])
    assert details > 0 and SOLUTIONS[lang] in text[details:], f"{lang}/{path.name}: exercises need solutions"
    assert NOTEBOOK_LINK[lang].format(stem=path.stem) in LINK.findall(text)
    if lang == "ko":
        assert "python -m sim lab --lang ko" in text, f"ko/{path.name} does not say how to open it in Korean"


def test_each_index_links_every_chapter_its_notebook_and_the_glossary():
    for lang, folder in FOLDERS.items():
        links = LINK.findall(_text(folder / "README.md"))
        prefix = "../" if lang == "en" else "../../"
        for path in CHAPTERS[lang]:
            assert path.name in links and f"{prefix}notebooks/learn/{path.stem}.ipynb" in links, (lang, path.name)
        assert "glossary.md" in links
    assert "ko/README.md" in LINK.findall(_text(PLAYBOOK / "README.md"))
    assert "python -m sim lab --lang ko" in _text(FOLDERS["ko"] / "README.md")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_links_back_to_its_chapter(path: Path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    assert f"../../playbook/{path.stem}.md" in LINK.findall(first.source)


def _markdown_sources() -> list[tuple[Path, str]]:
    out = [(p, _text(p)) for _, p in PAGES]
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
                dead.append(f"{path} -> {target}")
    assert not dead, dead


SIM_NAME = re.compile(r"`(sim(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")


def _resolves(dotted: str) -> bool:
    """`sim.a.b.c` names an importable module or an attribute of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_sim_names_in_the_playbook_resolve():
    names = {(path.name, n) for _, path in PAGES for n in SIM_NAME.findall(_text(path))}
    assert len(names) > 10
    missing = sorted(f"{page}: {n}" for page, n in names if not _resolves(n))
    assert not missing, missing


def test_name_check_catches_a_stale_name():
    assert _resolves("sim.learn.figures.order_log_kpis") and _resolves("sim.model.acquisition")
    assert not _resolves("sim.model.first_purchase_hazard")  # the name before the model was split by concept
    assert not _resolves("sim.learn.figures.no_such_function")
    assert not _resolves("sim.no_such_module.function")


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


@pytest.mark.parametrize("lang", FOLDERS)
def test_scenario_fields_named_in_chapters_exist(lang: str):
    missing, named = [], 0
    for path in CHAPTERS[lang]:
        for dotted in FIELD.findall(_text(path)):
            dotted = dotted.rstrip(".").replace(".*", "")
            if dotted.startswith("budget.channel_split") or dotted.startswith("budget.purpose_split"):
                continue
            named += 1
            if not _field_exists(dotted):
                missing.append(f"{path.name}: {dotted}")
    assert named > 30 and not missing, missing


def test_field_check_catches_a_typo():
    assert _field_exists("retention.first_party_data_share")
    assert _field_exists("channels.<id>.reach.max_reach")
    assert not _field_exists("retention.first_party_share")


# -- glossaries -------------------------------------------------------------------------------------------


def _glossary(lang: str) -> tuple[set[str], set[str]]:
    """(aliases in the glossary's language, aliases in the other language) of every row of a glossary.

    The English glossary's columns are English | 한국어 | definition | In `sim`; the Korean one's are
    한국어 | English | 뜻 | `sim` 이름. Names in `sim` (in backticks, from the fourth column on) count as
    aliases of the glossary's own language, so KPI, stage and purpose names must appear there."""
    own, other = set(), set()
    for line in _text(FOLDERS[lang] / "glossary.md").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or cells[0] in ("English", "한국어", "") or set(cells[0]) <= set("-: "):
            continue
        own |= {_norm(a) for a in cells[0].split(" / ")}
        own |= {_norm(a) for cell in cells[3:] for a in re.findall(r"`([^`]+)`", cell)}
        other |= {_norm(a) for a in cells[1].split(" / ")}
    return own, other


def _norm(term: str) -> str:
    return re.sub(r"\s+", " ", term.replace("`", "").replace("*", "").strip().lower())


def _covered(term: str, aliases: set[str]) -> bool:
    t = _norm(term)
    return t in aliases or t.rstrip("s") in aliases or re.sub(r"\s*\(.*?\)", "", t).strip() in aliases


def _bold_terms(lang: str) -> set[str]:
    """Terms the chapters bold (bold lead-ins of a pitfall or a step end with punctuation: not terms)."""
    terms = set()
    for path in CHAPTERS[lang]:
        for bold in re.findall(r"\*\*(.+?)\*\*", _text(path)):
            if not re.search(r"[.?:!]$", bold.strip()):
                terms.add(bold)
    return terms


@pytest.mark.parametrize("lang", FOLDERS)
def test_glossary_covers_model_names_and_chapter_terms(lang: str):
    own, other = _glossary(lang)
    terms = set(KPI_NAMES) | set(STAGES) | set(PURPOSES) | _bold_terms(lang)
    missing = sorted(t for t in terms if not _covered(t, own))
    assert not missing, f"terms missing from {FOLDERS[lang].name}/glossary.md: {missing}"
    assert len(own) > 100 and len(other) > 50


def test_glossary_check_catches_a_missing_term():
    own, _ = _glossary("ko")
    assert _covered("**충성고객**", own) and _covered("고객 획득 비용(CAC)", own)
    assert not _covered("로얄티 프로그램", own)
    english, _ = _glossary("en")
    assert _covered("reviews", english) and not _covered("royal customer", english)


REPORT_PREFIXES = ("kpi.", "stage.", "purpose.", "lever.", "funnel.")
CATALOG = ROOT / "sim" / "report" / "i18n"


def test_glossaries_cover_the_reports_terms():
    en = json.loads((CATALOG / "en.json").read_text(encoding="utf-8"))
    ko = json.loads((CATALOG / "ko.json").read_text(encoding="utf-8"))
    keys = [k for k in en if k.startswith(REPORT_PREFIXES) and not k.endswith((".reading", ".source")) and "{" not in en[k]]
    assert len(keys) > 20
    for lang, catalog, column in (("en", en, 0), ("en", ko, 1), ("ko", ko, 0), ("ko", en, 1)):
        aliases = _glossary(lang)[column]
        missing = sorted(f"{k}: {catalog[k]}" for k in keys if k in catalog and not _covered(catalog[k], aliases))
        assert not missing, (lang, missing)


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
    assert expected_answer("ch3_q1") == pytest.approx(pf.value("ch3_orders_per_new").number, abs=0.005)
    assert expected_answer("ch8_q2") == pytest.approx(pf.value("ch8_reach_one_channel").number, abs=0.5)
    assert expected_answer("ch9_q1") == pytest.approx(pf.value("ch9_best_front_saturated").number)
