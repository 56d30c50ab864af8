"""Client exports unlike the samples: what `sim calibrate` reads from them, and what it refuses in one line.

Each case here was a silently wrong result or a misleading message before: repeated rows of one order counted
twice, cancelled orders counted as purchases, month-only or trailing-junk dates read as the 1st of the month,
an ambiguous --until read month first, a spend log ending months before the orders giving a stale plan, two
events on the same days failing as a flat likelihood of the order log, a planned event dropped without a word,
Excel's day numbers and Excel's own CSV quirks ('sep=;' line, ';;;;' rows) refused as unreadable.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile import run_cli

from sim.calibration.calibrate import _parse_until
from sim.calibration.mbgnbd import simulate_transactions
from sim.calibration.orderlog import parse_dates, read_orders, read_spend
from sim.errors import DataError, UserInputError


def _history(n_customers: int = 150, seed: int = 5) -> pd.DataFrame:
    """A small valid MBG/NBD history from 2025-01-01 (seeded): order_id, customer_id, day, amount (round)."""
    rng = np.random.default_rng(seed)
    cust, day = simulate_transactions(n_customers, 0.8, 40.0, 1.0, 3.0, 420, rng)
    dates = pd.Timestamp("2025-01-01") + pd.to_timedelta(day.astype(int), unit="D")
    frame = pd.DataFrame(
        {
            "order_id": [f"O{i:06d}" for i in range(len(cust))],
            "customer_id": [f"C{c:05d}" for c in cust],
            "day": dates,
            "amount": np.round(rng.gamma(4.0, 38_000 / 4.0, size=len(cust)), -2),
        }
    )
    return frame.sort_values("day", kind="stable").reset_index(drop=True)


HISTORY = _history()


def _csv(frame: pd.DataFrame, path: Path, *, sep: str = ",", encoding: str = "utf-8") -> Path:
    out = frame.copy()
    if "day" in out:
        out = out.rename(columns={"day": "order_date"})
        if pd.api.types.is_datetime64_any_dtype(out["order_date"]):
            out["order_date"] = out["order_date"].dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False, sep=sep, encoding=encoding)
    return path


def _truth(frame: pd.DataFrame) -> pd.Series:
    """The transactions the export means: amounts summed per customer and day."""
    return frame.groupby(["customer_id", frame["day"].dt.normalize()])["amount"].sum()


def _refused(outcome, out: Path, *fragments: str) -> str:
    """Exit 2, one 'error:' line naming every fragment, no traceback, nothing written."""
    assert outcome.code == 2, (outcome.code, outcome.stdout, outcome.stderr)
    assert len(outcome.lines) == 1 and outcome.lines[0].startswith("error: "), outcome.stderr
    assert "Traceback" not in outcome.stderr
    for fragment in fragments:
        assert fragment in outcome.lines[0], (fragment, outcome.lines[0])
    assert not out.exists() and not list(out.parent.glob("*")), list(out.parent.glob("*"))
    return outcome.lines[0]


def _calibrate(tmp_path: Path, orders: Path, *extra: str):
    out = tmp_path / "client" / "scenario.yaml"
    out.parent.mkdir(exist_ok=True)
    return run_cli(["calibrate", orders, "--out", out, "--currency", "KRW", *extra]), out


# -- orders: repeated rows, order lines, statuses -----------------------------------------------------------


def test_rows_repeating_an_order_in_every_cell_are_refused_then_read_as_told(tmp_path):
    doubled = pd.concat([HISTORY, HISTORY.iloc[:40]]).sort_values("day", kind="stable")
    path = _csv(doubled, tmp_path / "orders.csv")
    outcome, out = _calibrate(tmp_path, path)
    _refused(outcome, out, "orders.csv", "column 'order_id'", "40 rows repeat", "--duplicate-orders drop")
    once = read_orders(path, duplicate_orders="drop")
    assert once.raw_orders == len(HISTORY)
    assert np.allclose(once.transactions["amount"].mean(), _truth(HISTORY).mean())
    assert any("40 rows repeating" in w for w in once.warnings)
    lines = read_orders(path, duplicate_orders="keep")  # identical order lines, added up
    assert lines.raw_orders == len(HISTORY)  # lines of one order are one order
    assert np.isclose(lines.transactions["amount"].sum(), doubled["amount"].sum())


def test_order_lines_of_one_order_are_added_up(tmp_path):
    first = HISTORY.assign(amount=HISTORY["amount"] * 0.75, sku="a")
    second = HISTORY.assign(amount=HISTORY["amount"] * 0.25, sku="b")
    path = _csv(pd.concat([first, second]).sort_values("order_id", kind="stable"), tmp_path / "orders.csv")
    log = read_orders(path)
    assert len(log.transactions) == len(_truth(HISTORY))
    assert np.isclose(log.transactions["amount"].mean(), _truth(HISTORY).mean())


def test_one_order_id_under_two_customers_is_refused(tmp_path):
    clash = HISTORY.copy()
    clash.loc[5, "order_id"] = taken = clash.loc[90, "order_id"]
    path = _csv(clash, tmp_path / "orders.csv")
    with pytest.raises(DataError, match=rf"order id '{taken}' is on rows 7 and 92 with different customers or days"):
        read_orders(path)
    assert read_orders(path, duplicate_orders="keep").raw_orders == len(HISTORY)


def test_an_order_number_column_is_not_taken_for_an_order_id(tmp_path):
    """`sim run` writes the customer's n-th order as order_number: the same number under many customers."""
    numbered = HISTORY.drop(columns="order_id")
    numbered["order_number"] = numbered.groupby("customer_id").cumcount() + 1
    assert read_orders(_csv(numbered, tmp_path / "orders.csv")).raw_orders == len(HISTORY)


@pytest.mark.parametrize(
    "header, cancelled, done",
    [("status", "Cancelled", "completed"), ("주문상태", "취소", "배송완료"), ("financial_status", "refunded", "paid")],
)
def test_cancelled_orders_are_left_out_and_said_so(tmp_path, header, cancelled, done):
    status = np.where(np.arange(len(HISTORY)) % 9 == 0, cancelled, done)
    path = _csv(HISTORY.assign(**{header: status}), tmp_path / "orders.csv")
    log = read_orders(path)
    bought = HISTORY[status == done]
    assert log.raw_orders == len(bought)
    assert np.isclose(log.transactions["amount"].mean(), _truth(bought).mean())
    assert log.transactions["customer_id"].nunique() == bought["customer_id"].nunique()
    warning = next(w for w in log.warnings if "left out as not bought" in w)
    assert repr(cancelled) in warning and repr(header) in warning and repr(done) in warning


def test_refund_rows_with_a_status_do_not_stop_the_read(tmp_path):
    refunds = HISTORY.iloc[:10].assign(amount=-HISTORY["amount"].iloc[:10], status="refunded")
    path = _csv(pd.concat([HISTORY.assign(status="paid"), refunds]), tmp_path / "orders.csv")
    assert read_orders(path).raw_orders == len(HISTORY)


@pytest.mark.parametrize(
    "sign, encoding, currency",
    [
        ("₩", "utf-8", "KRW"),
        ("￦", "cp949", "KRW"),
        ("\\", "cp949", "KRW"),
        ("\\", "utf-8", None),
        ("$", "utf-8", None),
    ],
)
def test_won_signs_of_korean_excel(tmp_path, sign, encoding, currency):
    export = pd.DataFrame(
        {
            "고객번호": HISTORY["customer_id"],
            "주문일자": HISTORY["day"].dt.strftime("%Y. %m. %d."),
            "결제금액": [f"{sign}{v:,.0f}" for v in HISTORY["amount"]],
        }
    )
    path = tmp_path / "orders.csv"
    export.to_csv(path, index=False, encoding=encoding)
    log = read_orders(path)
    assert log.currency == currency, log.currency_evidence
    assert np.isclose(log.transactions["amount"].mean(), _truth(HISTORY).mean())


def test_ids_differing_only_in_letter_case_are_named_in_a_warning(tmp_path):
    mixed = HISTORY.assign(customer_id=[c.lower() if i % 3 == 0 else c for i, c in enumerate(HISTORY["customer_id"])])
    log = read_orders(_csv(mixed, tmp_path / "orders.csv"))
    assert any("written in two letter cases" in w for w in log.warnings)


def test_an_empty_amount_is_called_empty(tmp_path):
    blank = HISTORY.astype({"amount": object})
    blank.loc[3, "amount"] = ""
    with pytest.raises(DataError, match=r"row 5, column 'amount': empty amount"):
        read_orders(_csv(blank, tmp_path / "orders.csv"))


# -- Excel's CSV ----------------------------------------------------------------------------------------------


def test_excel_sep_line_and_rows_of_bare_separators(tmp_path):
    text = _csv(HISTORY, tmp_path / "plain.csv", sep=";").read_text()
    body = text.replace("\n", ";;\n")  # Excel pads every row to the table's width
    path = tmp_path / "orders.csv"
    path.write_text("sep=;\n" + body + ";;;;;\n;;;;;\n", encoding="utf-8")
    log = read_orders(path)
    assert log.raw_orders == len(HISTORY)
    assert np.isclose(log.transactions["amount"].mean(), _truth(HISTORY).mean())
    broken = text.splitlines()
    broken.insert(3, ";;;")  # a blank row, then a bad date in the next data row: row numbers still the file's
    broken[5] = broken[5].replace(broken[5].split(";")[2], "soon")
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 6, column 'order_date': unreadable date \(found: 'soon'\)"):
        read_orders(path)


def test_excel_day_numbers_are_refused_unless_read_as_excel(tmp_path):
    serial = HISTORY.assign(day=(HISTORY["day"] - pd.Timestamp("1899-12-30")).dt.days + 0.5)
    path = _csv(serial, tmp_path / "orders.csv")
    outcome, out = _calibrate(tmp_path, path)
    _refused(outcome, out, "orders.csv", "Excel's day numbers", "1904", "--date-format excel")
    log = read_orders(path, date_format="excel")
    assert log.first_date == HISTORY["day"].min() and log.last_date == HISTORY["day"].max()
    assert np.isclose(log.transactions["amount"].mean(), _truth(HISTORY).mean())


# -- dates ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["2025년 3월", "2025-03-011", "2025-03-01abc", "2025-03-01 - 2025-03-05", "2025-03-01 25:00"]
)
def test_order_dates_must_be_whole_dates(value):
    with pytest.raises(DataError, match="unreadable date"):
        parse_dates(pd.Series(["2025-03-02", value]), "orders.csv", "order_date")


@pytest.mark.parametrize(
    "value, day",
    [
        ("2025-03-01T23:30:00-05:00", "2025-03-01"),  # the shop's local day, not the UTC one
        ("2025-03-01T01:30:00+09:00", "2025-03-01"),
        ("2025-03-02 10:00:00 +0900", "2025-03-02"),
        ("2025-03-02T10:00:00.123Z", "2025-03-02"),
        ("2025-03-01(토)", "2025-03-01"),
        ("2025년 3월 5일 (수) 오후 3:05", "2025-03-05"),
        ("05-Mar-2025", "2025-03-05"),
        ("March 5, 2025", "2025-03-05"),
    ],
)
def test_dates_with_times_offsets_weekdays_and_month_names(value, day):
    assert parse_dates(pd.Series([value]), "orders.csv", "order_date").iloc[0] == pd.Timestamp(day)


def test_month_only_dates_stay_allowed_in_a_spend_log(tmp_path):
    path = tmp_path / "spend.csv"
    path.write_text("월,채널,광고비\n2025년 1월,검색,100\n2025년 2월,검색,200\n", encoding="utf-8")
    assert list(read_spend(path).index) == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")]


def test_a_column_mixing_date_orders_names_both_rows():
    values = pd.Series(["2025-03-01", "2025/03/02", "05.03.2025"])
    with pytest.raises(DataError, match=r"'2025-03-01' \(row 2\) is year first, '05.03.2025' \(row 4\) day first"):
        parse_dates(values, "orders.csv", "order_date")


@pytest.mark.parametrize(
    "text, fragment", [("03/04/2026", "ambiguous date"), ("2026", "not a date"), ("2026-03-011", "not a date")]
)
def test_until_is_read_like_the_order_dates(text, fragment):
    with pytest.raises(UserInputError, match=fragment):
        _parse_until(text)


def test_until_accepts_what_leaves_no_doubt():
    assert _parse_until("31.03.2026") == pd.Timestamp("2026-03-31")
    assert _parse_until("2026/03/31") == pd.Timestamp("2026-03-31")
    assert _parse_until("03/04/2026", "%d/%m/%Y") == pd.Timestamp("2026-04-03")


def test_an_ambiguous_until_is_refused_before_any_fitting(tmp_path):
    outcome, out = _calibrate(tmp_path, _csv(HISTORY, tmp_path / "orders.csv"), "--until", "03/04/2026")
    _refused(outcome, out, "--until", "ambiguous", "03/04/2026")


# -- the spend log and the events -----------------------------------------------------------------------------


def _spend(path: Path, first: str, last: str) -> Path:
    months = pd.period_range(first, last, freq="M")
    rows = "".join(f"{m},{ch},{1_000_000 + 10_000 * i}\n" for i, m in enumerate(months) for ch in ("search", "sns"))
    path.write_text("month,channel,amount\n" + rows, encoding="utf-8")
    return path


def test_a_spend_log_ending_months_before_the_orders_is_refused(tmp_path):
    spend = _spend(tmp_path / "spend.csv", "2025-01", "2025-09")
    cut = HISTORY["day"].max()
    with pytest.raises(DataError, match=r"ends in 2025-09, but the order log runs to .*--until 2025-09-30"):
        read_spend(spend, until=cut)
    filled = read_spend(spend, until=cut, fill_gaps=True)
    assert filled.index[-1] == (cut + pd.Timedelta(days=1)).to_period("M").to_timestamp() - pd.offsets.MonthBegin(1)
    assert (filled.loc["2025-10-01":].to_numpy() == 0).all()
    assert "2025-10" in filled.attrs["filled_months"]
    assert read_spend(spend, until=pd.Timestamp("2025-10-15")).index[-1] == pd.Timestamp("2025-09-01")


def test_events_on_the_same_days_are_refused_naming_both(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("name,start,end\nsale,2025-04-01,2025-04-10\nmega,2025-04-01,2025-04-10\n", encoding="utf-8")
    outcome, out = _calibrate(tmp_path, _csv(HISTORY, tmp_path / "orders.csv"), "--events", events)
    _refused(outcome, out, "events.csv", "'sale' (row 2) and 'mega' (row 3)", "same days", "cannot be told apart")


def test_a_bad_event_calendar_is_refused_before_any_fitting(tmp_path, monkeypatch):
    from sim.calibration import calibrate as calibrate_module

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before reading the event calendar")

    monkeypatch.setattr(calibrate_module, "fit_repeat_purchase", no_fit)
    events = tmp_path / "events.csv"
    events.write_text("name,start,end\nsale,2025-04-10,2025-04-01\n", encoding="utf-8")
    outcome, out = _calibrate(tmp_path, _csv(HISTORY, tmp_path / "orders.csv"), "--events", events)
    _refused(outcome, out, "events.csv", "row 2", "ends before it starts")


# -- end to end -----------------------------------------------------------------------------------------------


def test_korean_excel_export_with_statuses_and_overlapping_events_end_to_end(tmp_path):
    """CP949, ₩ amounts with thousands, afternoon times, a status column, an order id, a future event."""
    status = np.where(np.arange(len(HISTORY)) % 11 == 0, "주문취소", "구매확정")
    times = HISTORY["day"] + pd.to_timedelta(13 + np.arange(len(HISTORY)) % 9, unit="h")
    export = pd.DataFrame(
        {
            "주문번호": HISTORY["order_id"],
            "고객번호": HISTORY["customer_id"],
            "주문일시": [f"{t:%Y-%m-%d} 오후 {t.hour - 12}:{t.minute:02d}:00" for t in times],
            "결제금액": [f"\\{v:,.0f}" for v in HISTORY["amount"]],  # CP949 stores ₩ as a backslash
            "주문상태": status,
        }
    )
    orders = tmp_path / "orders.csv"
    export.to_csv(orders, index=False, encoding="cp949")
    events = tmp_path / "events.csv"
    events.write_text(
        "name,start,end\nspring,2025-04-01,2025-04-10\nmega,2025-04-05,2025-04-15\nnew launch,2026-11-01,2026-11-03\n",
        encoding="utf-8",
    )
    out = tmp_path / "client" / "scenario.yaml"
    clock = time.monotonic()
    outcome = run_cli(["calibrate", orders, "--events", events, "--out", out])  # the currency from the won sign
    assert outcome.code == 0, outcome.stderr
    assert time.monotonic() - clock < 30
    assert "left out as not bought" in outcome.stdout and "new launch" in outcome.stdout
    bought = HISTORY[status == "구매확정"]
    import yaml

    scenario = yaml.safe_load(out.read_text(encoding="utf-8"))
    data = scenario["calibration"]["data"]
    assert data["customers"] == bought["customer_id"].nunique()
    assert data["orders"] == len(bought)
    assert scenario["economics"]["currency"] == "KRW"
    assert scenario["economics"]["order_value_mean"] == pytest.approx(_truth(bought).mean(), rel=0.02)
    assert {e["name"] for e in scenario["calibration"]["events"]["fitted"]} == {"spring", "mega"}
    assert run_cli(["validate", out]).code == 0


def test_a_200k_row_export_reads_in_seconds(tmp_path):
    rng = np.random.default_rng(1)
    n = 200_000
    days = pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    frame = pd.DataFrame(
        {
            "order_id": [f"O{i:07d}" for i in range(n)],
            "customer_id": [f"C{c:06d}" for c in rng.integers(0, 60_000, n)],
            "order_date": (days + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")).strftime("%Y-%m-%d %H:%M:%S"),
            "amount": [f"₩{v:,.0f}" for v in np.round(rng.gamma(4.0, 9_500.0, n), -2)],
            "status": np.where(rng.random(n) < 0.05, "cancelled", "paid"),
        }
    )
    path = tmp_path / "orders.csv"
    frame.to_csv(path, index=False)
    clock = time.monotonic()
    log = read_orders(path)
    assert time.monotonic() - clock < 20  # about 2 s here; a per-row Python loop would take minutes
    assert log.raw_orders == int((frame["status"] == "paid").sum())
