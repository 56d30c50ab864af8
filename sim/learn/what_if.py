"""The consultant's what-if: open a scenario, move its main levers, see the answer at once, save the edit.

A `WhatIf` holds the scenario as written (the YAML mapping) and as validated. Each lever is a dotted path
of the scenario (or a factor on several), its value as loaded and its range. `changes(values)` turns the
levers that moved into edits of the YAML mapping, so the saved file keeps the client's own structure
(per-period lists, omitted defaults) wherever a lever did not move. Every answer comes from the fast
engine in expected mode: deterministic, so the loaded and the edited plan differ only by the levers.
`notebooks/what_if.ipynb` puts sliders, the key KPIs and two charts on top (`ui`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import UserInputError
from sim.model.kpis import compute_kpis
from sim.model.result import SimulationResult
from sim.model.scenario import Scenario, load_scenario, parse_scenario

KEY_KPIS = (
    "new_customers",
    "cac",
    "first_purchase_conversion",
    "repeat_purchase_rate",
    "retention_12m",
    "clv",
    "ltv_cac",
    "payback_months",
    "cumulative_contribution",
    "npv",
)
_KPI_LABELS = {"new_customers": ("new customers", "신규고객")}


@dataclass(frozen=True)
class Lever:
    """One lever: its name, labels, value as loaded, range and step (`factor`: a multiplier of the loaded
    values of `paths`, 1 = as loaded)."""

    key: str
    en: str
    ko: str
    value: float
    lo: float
    hi: float
    step: float
    paths: tuple[str, ...] = ()
    factor: bool = False
    fmt: str = ".2f"


def _get(data: dict, dotted: str) -> Any:
    node: Any = data
    for key in dotted.split("."):
        node = node[key]
    return node


def _set(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _split(value: Any) -> dict[str, float]:
    """A purpose split as a mapping (whether the schema gives a dict or a model)."""
    return dict(value) if isinstance(value, dict) else value.model_dump()


def _first_split(s: Scenario) -> dict[str, float]:
    split = s.budget.purpose_split
    return _split(split[0] if isinstance(split, list) else split)


def _bound(model: type, name: str, default: float) -> float:
    """The schema's upper bound of a numeric field (so a factor never pushes a value out of the schema)."""
    for meta in model.model_fields[name].metadata:
        le = getattr(meta, "le", None)
        if le is not None:
            return float(le)
    return default


def levers(s: Scenario) -> list[Lever]:
    """The main levers of a scenario, at their loaded values."""
    split = _first_split(s)
    fp, ex, wb = s.first_purchase, s.experience, s.winback
    conv_hi = round(max(0.05, 3 * fp.monthly_conversion), 3)
    per_customer = getattr(s.budget, "back_per_customer", None) is not None
    out = [
        Lever(
            "budget",
            "budget level (× the plan)",
            "예산 수준(계획 대비 배수)",
            1.0,
            0.0,
            3.0,
            0.05,
            ("budget.totals",),
            True,
        ),
        Lever("front", "front-end share", "프론트엔드 비중", split.get("front", 0.0), 0.0, 1.0, 0.01),
        Lever("winback", "win-back share", "윈백 비중", split.get("winback", 0.0), 0.0, 1.0, 0.01),
    ]
    if per_customer:
        out.append(
            Lever(
                "back_per_customer",
                "back-end per active customer (× the plan)",
                "활동 고객 1명당 백엔드 예산(계획 대비 배수)",
                1.0,
                0.0,
                3.0,
                0.05,
                ("budget.back_per_customer",),
                True,
            )
        )
    out += [
        Lever(
            "conversion",
            "first-purchase chance a month",
            "월 첫 구매 확률",
            fp.monthly_conversion,
            0.0,
            conv_hi,
            0.001,
            ("first_purchase.monthly_conversion",),
            fmt=".3f",
        ),
        Lever(
            "reliability",
            "reliability (orders as expected)",
            "신뢰도(기대대로 간 주문)",
            ex.reliability,
            0.5,
            1.0,
            0.01,
            ("experience.reliability",),
        ),
        Lever(
            "delight",
            "delight (share of orders)",
            "감동 선물(주문 중 비율)",
            ex.delight_coverage,
            0.0,
            1.0,
            0.05,
            ("experience.delight_coverage",),
        ),
        Lever(
            "retention_effect",
            "back-end effect (× the assumed sizes)",
            "백엔드 효과(가정한 크기 대비 배수)",
            1.0,
            0.0,
            3.0,
            0.05,
            (
                "retention.purchase_rate_uplift_max",
                "retention.dropout_reduction_max",
                "retention.order_value_uplift_max",
            ),
            True,
        ),
        Lever(
            "winback_response",
            "win-back comeback chance per contact",
            "윈백 연락 1회당 복귀 확률",
            wb.base_reactivation,
            0.0,
            round(max(0.1, 3 * wb.base_reactivation), 3),
            0.001,
            ("winback.base_reactivation",),
            fmt=".3f",
        ),
    ]
    return out


@dataclass
class WhatIf:
    """A scenario opened for what-if questions: `raw` as written, `scenario` validated, `source` its name."""

    raw: dict[str, Any]
    scenario: Scenario
    source: str
    levers: list[Lever] = field(default_factory=list)
    _baseline: SimulationResult | None = None

    @classmethod
    def open(cls, path: str | Path) -> WhatIf:
        """Open a scenario file (a `ScenarioError` names the file and the problem)."""
        scenario = load_scenario(path)
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig"))
        return cls(raw, scenario, str(path), levers(scenario))

    @classmethod
    def from_text(cls, text: str, source: str) -> WhatIf:
        """Open a scenario from YAML text (an uploaded file)."""
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UserInputError(f"is not valid YAML: {getattr(exc, 'problem', exc)}", file=source) from None
        scenario = parse_scenario(raw, source)
        return cls(raw, scenario, source, levers(scenario))

    def values(self) -> dict[str, float]:
        """The levers at their loaded values."""
        return {lv.key: lv.value for lv in self.levers}

    def changes(self, values: dict[str, float]) -> dict[str, Any]:
        """The YAML edits (dotted path -> new value) for the levers that moved."""
        original = self.scenario
        out: dict[str, Any] = {}
        by_key = {lv.key: lv for lv in self.levers}
        moved = {k: v for k, v in values.items() if k in by_key and not math.isclose(v, by_key[k].value, abs_tol=1e-12)}
        if "front" in moved or "winback" in moved:
            front = float(values.get("front", by_key["front"].value))
            winback = min(float(values.get("winback", by_key["winback"].value)), 1.0 - front)
            per_customer = "back_per_customer" in by_key
            split = {"front": round(front, 6), "winback": round(winback, 6)}
            if per_customer:  # the totals fund front-end and win-back only
                split = {"front": round(front / max(front + winback, 1e-12), 6), "winback": 0.0}
                split["winback"] = round(1.0 - split["front"], 6)
            else:
                split["back"] = round(max(0.0, 1.0 - front - winback), 6)
            out["budget.purpose_split"] = split  # one split for every period
        for key, value in moved.items():
            lever = by_key[key]
            if key in ("front", "winback"):
                continue
            for path in lever.paths:
                if lever.factor:
                    base = _get(original.model_dump(mode="python"), path)
                    top = _bound(type(_get_model(original, path)), path.rsplit(".", 1)[1], math.inf)
                    if isinstance(base, list):
                        out[path] = [_scale(b, value, top) for b in base]
                    else:
                        out[path] = _scale(base, value, top)
                else:
                    out[path] = float(value)
        return out

    def edited(self, values: dict[str, float]) -> tuple[dict[str, Any], Scenario]:
        """The edited YAML mapping and its validated scenario (a `ScenarioError` says what is wrong)."""
        raw = copy.deepcopy(self.raw)
        for path, value in self.changes(values).items():
            _set(raw, path, value)
        return raw, parse_scenario(raw, f"{self.source} (edited)")

    def baseline(self) -> SimulationResult:
        """The loaded plan's run (computed once)."""
        if self._baseline is None:
            self._baseline = run(self.scenario)
        return self._baseline

    def save(self, values: dict[str, float], target: str | Path, *, overwrite: bool = False) -> Path:
        """Write the edited scenario as YAML, validated first, atomically; refuse to replace a file unasked."""
        from sim import io

        target = Path(target)
        if target.suffix.lower() not in (".yaml", ".yml"):
            raise UserInputError("a scenario file must end in .yaml or .yml", location="save as", found=str(target))
        if target.exists() and not overwrite:
            raise UserInputError(
                "exists already; tick 'overwrite' to replace it", location="save as", found=str(target)
            )
        raw, _ = self.edited(values)
        from sim.model.yamlfile import ScenarioDumper  # floats a reader cannot take for thousands (152.6110)

        text = yaml.dump(raw, Dumper=ScenarioDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
        parse_scenario(yaml.safe_load(text), str(target))  # what is written reads back as a valid scenario
        return io.write_text(target, text)


def _get_model(s: Scenario, dotted: str) -> Any:
    node: Any = s
    for key in dotted.split(".")[:-1]:
        node = getattr(node, key)
    return node


def _scale(base: float, factor: float, top: float) -> float:
    return float(min(top, base * factor))


def run(scenario: Scenario) -> SimulationResult:
    """One plan with the fast engine in expected mode (daily values kept for the charts)."""
    from sim.engines.fast import simulate_batch

    return simulate_batch([scenario], keep_daily=True).result(0)


def kpi_table(before: SimulationResult, after: SimulationResult, currency: str, lang: str = "en") -> pd.DataFrame:
    """The key KPIs of the loaded and the edited plan, written in `lang`, with the change."""
    from sim.report.i18n import fmt_count, fmt_kpi, has, t

    k0, k1 = compute_kpis(before), compute_kpis(after)
    rows = []
    for name in KEY_KPIS:
        label = t(f"kpi.{name}", lang) if has(f"kpi.{name}", lang) else _KPI_LABELS[name][lang == "ko"]

        def show(v: float | None, name: str = name) -> str:
            return fmt_count(v, lang) if name == "new_customers" else fmt_kpi(name, v, currency, lang)

        a, b = k0.get(name), k1.get(name)
        change = (
            ""
            if a in (None, 0) or b is None or not np.isfinite(a) or not np.isfinite(b)
            else f"{(b - a) / abs(a):+.1%}"
        )
        rows.append((label, show(a), show(b), change))
    cols = ("KPI", "as loaded", "edited", "change") if lang == "en" else ("KPI", "불러온 계획", "수정한 계획", "변화")
    return pd.DataFrame(rows, columns=list(cols)).set_index("KPI")


def plot_answer(before: SimulationResult, after: SimulationResult, currency: str, lang: str = "en"):
    """Two charts: active customers by plan month, and cumulative contribution, loaded vs edited plan."""
    import matplotlib.pyplot as plt

    from sim.report.i18n import money_axis_label

    tr: Callable[[str, str], str] = lambda en, ko: ko if lang == "ko" else en  # noqa: E731
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for result, label, style in (
        (before, tr("as loaded", "불러온 계획"), "--"),
        (after, tr("edited", "수정한 계획"), "-"),
    ):
        monthly = result.monthly()
        months = np.arange(1, len(monthly) + 1)
        ax1.plot(months, (monthly["customer"] + monthly["loyal"]).to_numpy(), style, label=label)
        ax2.plot(months, monthly["contribution"].cumsum().to_numpy(), style, label=label)
    ax1.set(
        title=tr("Active customers (customer + loyal)", "활동 고객(고객 + 충성고객)"),
        xlabel=tr("plan month", "계획 월"),
        ylabel=tr("people at month end", "월말 인원(명)"),
    )
    ax2.set(
        title=tr("Cumulative contribution", "누적 공헌이익"),
        xlabel=tr("plan month", "계획 월"),
        ylabel=f"{tr('cumulative contribution', '누적 공헌이익')} ({money_axis_label(currency, lang)})",
    )
    from sim.report.plots import money_formatter

    ax2.yaxis.set_major_formatter(money_formatter(currency, lang))
    for ax in (ax1, ax2):
        ax.legend(title=tr("plan", "계획"))
    fig.tight_layout()
    return fig


class WhatIfApp:
    """The widgets of the what-if notebook: open a scenario (path or upload), one slider per lever, the
    key KPIs and two charts redrawn after each move, and a button that saves the edit as YAML."""

    def __init__(self, path: str | Path | None, lang: str = "en", save_as: str | Path | None = None) -> None:
        import ipywidgets as w

        self.lang = lang
        self.what_if: WhatIf | None = None
        width = {"style": {"description_width": "20em"}, "layout": w.Layout(width="44em")}
        self.path = w.Text(value=str(path or ""), description=self._tr("scenario file", "시나리오 파일"), **width)
        self.open_button = w.Button(description=self._tr("Open", "열기"), icon="folder-open")
        self.upload = w.FileUpload(accept=".yaml,.yml", multiple=False, description=self._tr("Upload", "올리기"))
        self.status = w.HTML()
        self.sliders = w.VBox()
        self.answer = w.Output()
        self.save_path = w.Text(value=str(save_as or ""), description=self._tr("save as", "저장할 파일"), **width)
        self.overwrite = w.Checkbox(value=False, description=self._tr("overwrite", "덮어쓰기"))
        self.save_button = w.Button(
            description=self._tr("Save as YAML", "YAML로 저장"), icon="save", button_style="primary"
        )
        self.saved = w.HTML()
        for widget, name in (
            (self.path, "path"),
            (self.status, "status"),
            (self.answer, "answer"),
            (self.save_path, "save-path"),
            (self.save_button, "save"),
            (self.saved, "saved"),
        ):
            widget.add_class(f"sim-whatif-{name}")
        self.open_button.on_click(lambda _: self.open(self.path.value))
        self.upload.observe(self._uploaded, names="value")
        self.save_button.on_click(lambda _: self.save())
        self.box = w.VBox(
            [
                w.HBox([self.path, self.open_button, self.upload]),
                self.status,
                self.sliders,
                self.answer,
                w.HBox([self.save_path, self.overwrite, self.save_button]),
                self.saved,
            ]
        )
        if path:
            self.open(path)

    def _tr(self, en: str, ko: str) -> str:
        return ko if self.lang == "ko" else en

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)

    def _say(self, widget, text: str, ok: bool = True) -> None:
        import html

        color = "#1b5e20" if ok else "#b71c1c"
        widget.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    def open(self, path: str | Path) -> None:
        """Open a scenario file and rebuild the sliders."""
        try:
            self._show(WhatIf.open(path))
        except UserInputError as exc:
            self._say(self.status, f"error: {exc}", ok=False)

    def _uploaded(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0] if isinstance(files, list | tuple) else next(iter(files.values()))
        name, content = item["name"], bytes(item["content"])
        try:
            self._show(WhatIf.from_text(content.decode("utf-8-sig"), name))
        except UnicodeDecodeError:
            self._say(self.status, f"error: {name}: is not UTF-8 text", ok=False)
        except UserInputError as exc:
            self._say(self.status, f"error: {exc}", ok=False)

    def _show(self, what_if: WhatIf) -> None:
        import ipywidgets as w

        self.what_if = what_if
        sliders = []
        for lv in what_if.levers:
            s = w.FloatSlider(
                value=lv.value,
                min=lv.lo,
                max=lv.hi,
                step=lv.step,
                description=self._tr(lv.en, lv.ko),
                readout_format=lv.fmt,
                continuous_update=False,
                style={"description_width": "20em"},
                layout=w.Layout(width="44em"),
            )
            s.add_class(f"sim-whatif-lever-{lv.key}")
            s.observe(lambda _: self.update(), names="value")
            sliders.append(s)
        self.sliders.children = sliders
        if not self.save_path.value:
            source = Path(what_if.source)
            self.save_path.value = str(source.with_name(source.stem + "_what_if.yaml"))
        self._say(self.status, f"{what_if.source}: {what_if.scenario.name}")
        self.update()

    def values(self) -> dict[str, float]:
        assert self.what_if is not None
        return {lv.key: s.value for lv, s in zip(self.what_if.levers, self.sliders.children, strict=True)}

    def update(self) -> None:
        """Answer the current lever values: KPIs and charts of the loaded and the edited plan."""
        import time

        import matplotlib.pyplot as plt
        from IPython.display import HTML, display

        if self.what_if is None:
            return
        start = time.perf_counter()
        self._say(self.status, self._tr("answering…", "계산하는 중…"))
        try:
            _, scenario = self.what_if.edited(self.values())
        except UserInputError as exc:
            self._say(self.status, f"error: {exc}", ok=False)
            return
        before, after = self.what_if.baseline(), run(scenario)
        currency = scenario.economics.currency
        table = kpi_table(before, after, currency, self.lang)
        fig = plot_answer(before, after, currency, self.lang)
        seconds = time.perf_counter() - start
        with self.answer:
            self.answer.clear_output(wait=True)
            display(HTML(table.to_html(classes="sim-whatif-kpis")))
            display(fig)
            plt.close(fig)
        self._say(
            self.status,
            self._tr(
                f"{self.what_if.source}: {scenario.name}; fast engine, expected values, answered in {seconds:.2f} s",
                f"{self.what_if.source}: {scenario.name}; 빠른 엔진 기댓값, {seconds:.2f}초 만에 계산",
            ),
        )

    def save(self) -> Path | None:
        """Save the edited scenario (validated, atomic); the line under the button says where or why not."""
        if self.what_if is None:
            self._say(self.saved, self._tr("open a scenario first", "먼저 시나리오를 여세요"), ok=False)
            return None
        try:
            path = self.what_if.save(self.values(), self.save_path.value, overwrite=self.overwrite.value)
        except UserInputError as exc:
            self._say(self.saved, f"error: {exc}", ok=False)
            return None
        self._say(self.saved, self._tr(f"wrote {path} (a valid scenario)", f"{path}에 저장했습니다(검증된 시나리오)"))
        return path
