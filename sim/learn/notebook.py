"""What every learning notebook shares: the course language, texts in two languages, readable sliders, the
plot style (Korean glyphs from the NanumGothic font that koreanize-matplotlib ships) and the solution button.

A notebook calls `use_language(lang)` once, with its `lang` parameter ("en", "ko", or None for the
environment variable SIM_LANG, which `python -m sim lab --lang ko` sets, else "en"); from then on `tr(en, ko)`
picks a text, `say(en, ko)` shows Markdown, and the check cells answer in that language.
"""

from __future__ import annotations

import os
from typing import Any

LANGUAGES = ("en", "ko")
_state = {"lang": "en"}
LABEL_WIDTH = "17em"  # sliders show their whole label (no "budget (M…")
SLIDER_WIDTH = "40em"


def course_language(lang: str | None = None) -> str:
    """`lang` if given, else SIM_LANG from the environment, else "en"; an unknown code is an error."""
    chosen = (lang or os.environ.get("SIM_LANG") or "en").strip().lower()
    if chosen not in LANGUAGES:
        source = "lang" if lang else "SIM_LANG"
        raise ValueError(f"{source} must be one of {', '.join(LANGUAGES)}, found {chosen!r}")
    return chosen


def use_language(lang: str | None = None) -> str:
    """Set the notebook's language (texts, labels, check cells) and the matching plot style; return it."""
    _state["lang"] = course_language(lang)
    plot_style(_state["lang"])
    return _state["lang"]


def current_language() -> str:
    return _state["lang"]


def tr(en: str, ko: str) -> str:
    """The text in the notebook's language."""
    return ko if _state["lang"] == "ko" else en


def show_markdown(text: str) -> None:
    from IPython.display import Markdown, display

    display(Markdown(text))


def say(en: str, ko: str) -> None:
    """Show a Markdown text in the notebook's language."""
    show_markdown(tr(en, ko))


def plot_style(lang: str) -> None:
    """The notebooks' matplotlib look; with Korean text first in line for a font that has Hangul."""
    import matplotlib as mpl

    from sim.report.plots import register_korean_font

    korean = register_korean_font()
    if korean is None and lang == "ko":
        raise ImportError("Korean plots need the koreanize-matplotlib package: pip install koreanize-matplotlib")
    families = (
        ["DejaVu Sans"] if korean is None else ([korean, "DejaVu Sans"] if lang == "ko" else ["DejaVu Sans", korean])
    )
    mpl.rcParams.update(
        {
            "font.family": families,
            "axes.unicode_minus": False,  # NanumGothic has no U+2212 minus sign
            "figure.figsize": (9, 4.2),
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )


# -- numbers in the notebook's language ---------------------------------------------------------------------


def money(x: float, step: int = 100) -> str:
    """KRW as the chapters write it: '24,800 KRW' / '2만 4,800원'."""
    from sim.learn import figures

    return figures.krw(x, step).text(_state["lang"])


def millions(x: float) -> str:
    """KRW in tenths of a million: '132.4 million KRW' / '1억 3,240만 원'."""
    from sim.learn import figures

    return figures.mkrw(x).text(_state["lang"])


def count(x: float) -> str:
    """A count of people or orders: '2,090' / '2,090명'."""
    return f"{int(round(x)):,}" + ("명" if _state["lang"] == "ko" else "")


def percent(x: float, digits: int = 1) -> str:
    """A share as a percentage: '76.5%'."""
    return f"{100 * x:.{digits}f}%"


def figure_text(name: str) -> str:
    """A figure of the chapter as the chapter in the notebook's language quotes it."""
    from sim.learn import figures

    return figures.compute(name, _state["lang"])


# -- widgets ------------------------------------------------------------------------------------------------


def _style() -> dict[str, Any]:
    import ipywidgets as widgets

    return {"style": {"description_width": LABEL_WIDTH}, "layout": widgets.Layout(width=SLIDER_WIDTH)}


def slider(en: str, ko: str, value: float, lo: float, hi: float, step: float, *, fmt: str | None = None):
    """A slider whose label is shown whole (FloatSlider, or IntSlider for whole-number bounds and step)."""
    import ipywidgets as widgets

    whole = all(float(v).is_integer() for v in (value, lo, hi, step))
    kind = widgets.IntSlider if whole else widgets.FloatSlider
    extra = {"readout_format": fmt} if fmt else {}
    return kind(
        value=value, min=lo, max=hi, step=step, description=tr(en, ko), continuous_update=False, **extra, **_style()
    )


def money_slider(en: str, ko: str, value: float, values: list[float]):
    """A slider over amounts of KRW whose readout is written as the chapters write money."""
    import ipywidgets as widgets

    options = [(money(v, step=1), v) for v in values]
    return widgets.SelectionSlider(
        options=options, value=value, description=tr(en, ko), continuous_update=False, **_style()
    )


def dropdown(en: str, ko: str, options: list[tuple[str, Any]], value: Any):
    """A drop-down list with a readable label; `options` are (label, value) pairs."""
    import ipywidgets as widgets

    return widgets.Dropdown(options=options, value=value, description=tr(en, ko), **_style())


def in_kernel() -> bool:
    """Whether code runs in a Jupyter kernel (where widgets can be shown)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def solution_button(key: str, lang: str) -> None:
    """A button that shows (and hides) the chapter's solution of an exercise; the solution is never printed
    unasked. Without widgets, a line says how to see it."""
    if not in_kernel():
        return
    from sim.learn.exercises import solution

    try:
        import ipywidgets as widgets
    except ImportError:
        print(
            tr(
                f'To see the solution, run show_solution("{key}").',
                f'풀이를 보려면 show_solution("{key}")를 실행하세요.',
            )
        )
        return
    from IPython.display import Markdown, display

    show, hide = tr("Show the solution", "풀이 보기"), tr("Hide the solution", "풀이 숨기기")
    button = widgets.Button(description=show, icon="eye", layout=widgets.Layout(width="auto"))
    button.add_class("sim-solution-button")
    out = widgets.Output()
    out.add_class("sim-solution")

    def toggle(_: Any) -> None:
        out.clear_output()
        if button.description == show:
            with out:
                display(Markdown(solution(key, lang)))
            button.description = hide
        else:
            button.description = show

    button.on_click(toggle)
    display(widgets.VBox([button, out]))
