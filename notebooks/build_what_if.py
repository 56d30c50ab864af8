"""Build the consultant's what-if notebook, `notebooks/what_if.ipynb`, and execute it so it is stored with outputs.

    python notebooks/build_what_if.py            # write and execute
    python notebooks/build_what_if.py --no-run   # write only

The notebook is thin: its `parameters` cell names the scenario (a path, relative to `notebooks/`), the
language and where to save; `sim.learn.what_if` does the work (levers, fast engine, KPIs, charts, saving).
"""

from __future__ import annotations

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "learn"))
from build import execute, hidden, write_notebook  # noqa: E402  (the learning notebooks' builder)

HOW_TO = """\
# What if? · 만약에?

**How to use this notebook.** Run everything (menu **Run → Run All Cells**). Type the path of any scenario \
YAML in *scenario file* and press **Open**, or **Upload** one. Move the sliders: after each move the fast engine \
(expected values) answers with the key KPIs of the plan as loaded and as edited, and two charts. **Save as YAML** \
writes the edited scenario, validated, to *save as* (tick *overwrite* to replace a file). Levers that you do not \
move stay as the file has them. Without a live kernel, the tables below show the plan as loaded.

**이 노트북 사용법.** 먼저 전체를 실행하세요(메뉴 **Run → Run All Cells**). *시나리오 파일*에 시나리오 YAML의 \
경로를 적고 **열기**를 누르거나, 파일을 **올리기**로 올립니다. 슬라이더를 움직일 때마다 빠른 엔진(기댓값)이 \
불러온 계획과 수정한 계획의 핵심 KPI와 그래프 두 개로 답합니다. **YAML로 저장**을 누르면 수정한 시나리오를 검증한 \
뒤 *저장할 파일*에 씁니다(이미 있는 파일을 바꾸려면 *덮어쓰기*를 켜세요). 움직이지 않은 레버는 파일에 적힌 그대로 \
남습니다. 언어는 `python -m sim lab what-if --lang ko`로 열거나 첫 코드 셀의 `lang`으로 정합니다."""

PARAMETERS = """\
scenario_path = "../data/samples/scenarios/early_stage_d2c.yaml"  # any scenario YAML (relative to notebooks/)
lang = None  # "en" or "ko"; None: the SIM_LANG environment variable, else "en"
save_as = None  # where "Save as YAML" writes; None: <scenario>_what_if.yaml beside the scenario"""

SETUP = """\
%matplotlib inline
import matplotlib.pyplot as plt

from sim.learn.notebook import say, use_language
from sim.learn.what_if import WhatIf, WhatIfApp, kpi_table, plot_answer

lang = use_language(lang)"""

STATIC = """\
loaded = WhatIf.open(scenario_path)
result = loaded.baseline()
currency = loaded.scenario.economics.currency
print(loaded.scenario.name)
print(kpi_table(result, result, currency, lang).iloc[:, :1].to_string())
plot_answer(result, result, currency, lang)
plt.show()"""


def cells() -> list:
    params = new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    return [
        new_markdown_cell(HOW_TO),
        params,
        new_code_cell(SETUP),
        hidden(new_code_cell('say(\n    en="""## The plan as loaded""",\n    ko="""## 불러온 계획""",\n)')),
        new_code_cell(STATIC),
        hidden(new_code_cell('say(\n    en="""## Move the levers""",\n    ko="""## 레버 움직이기""",\n)')),
        new_code_cell("app = WhatIfApp(scenario_path, lang, save_as)\napp"),
    ]


def main(argv: list[str]) -> int:
    path = write_notebook(cells(), HERE / "what_if.ipynb")
    if "--no-run" in argv:
        print(f"{path.name}: written")
    else:
        print(f"{path.name}: executed in {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
