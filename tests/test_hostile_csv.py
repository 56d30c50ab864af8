"""Hostile client exports: order and spend logs are read as their author meant or refused in one line.

The worst failures are silent: European decimals read as tiny order values, one customer split in two by
"1.0" and "1", day-first dates read month-first, a missing month read as zero spend, a duplicated month
doubled. Each refused case asserts exit code 2, one line naming the file and the row or column, no
traceback, nothing written, within a generous time bound; each accepted case asserts what was read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hostile import assert_refused, run_cli, run_subprocess

from sim.calibration.mbgnbd import simulate_transactions
from sim.calibration.orderlog import read_orders, read_spend

HEADER = "customer_id,order_date,amount\n"


def _history(n_customers: int = 160, seed: int = 3) -> list[tuple[int, str, float]]:
    """A small valid MBG/NBD history over 2024 (seeded): (customer, ISO date, amount around 42,500)."""
    rng = np.random.default_rng(seed)
    cust, day = simulate_transactions(n_customers, 0.8, 40.0, 1.0, 3.0, 365, rng)
    dates = np.datetime64("2024-01-01") + day.astype("timedelta64[D]")
    values = rng.gamma(4.0, 42_500 / 4.0, size=len(cust))
    return [(int(c), str(d), float(v)) for c, d, v in zip(cust, dates, values, strict=True)]


ROWS = _history()


def _csv(rows=ROWS, *, sep=",", amount=lambda v: f"{v:.2f}", cid=lambda c: f"c{c}", date=lambda d: d, header=None):
    head = header or sep.join(("customer_id", "order_date", "amount"))

    def quoted(text: str) -> str:
        return f'"{text}"' if sep in text and not text.startswith('"') else text

    return head + "\n" + "".join(sep.join((cid(c), date(d), quoted(amount(v)))) + "\n" for c, d, v in rows)


def _write(tmp_path: Path, text: str | bytes, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _calibrate(tmp_path: Path, orders: Path, *extra):
    out = tmp_path / "client" / "scenario.yaml"
    return run_cli(["calibrate", orders, "--out", out, "--currency", "EUR", *extra]), out


def _us(v: float) -> str:
    return f"{v:,.2f}"


def _eu(v: float) -> str:
    return f"{v:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def _dmy(d: str) -> str:
    y, m, dd = d.split("-")
    return f"{dd}/{m}/{y}"


# -- refused in one line ----------------------------------------------------------------------------------

SPEND_OK = "month,channel,amount\n" + "".join(f"2024-{m:02d},search,100000\n" for m in range(1, 13))

REFUSED = [
    # (id, order log text or bytes, spend log text or None, extra flags, fragments of the one line)
    (
        "eu_ambiguous_thousands",
        _csv(amount=lambda v: f"{int(v) // 1000}.{int(v) % 1000:03d}", sep=";"),
        None,
        [],
        ["column 'amount'", "ambiguous", "--decimal"],
    ),
    (
        "mixed_decimal_marks",
        _csv(ROWS[:40], amount=_us) + "".join(f'x{i},2024-02-01,"{_eu(1234.5)}"\n' for i in range(3)),
        None,
        [],
        ["mix decimal points and decimal commas"],
    ),
    ("decimal_flag_bad_value", _csv(), None, ["--decimal", ";"], ["--decimal", "';'"]),
    ("scientific_ids", _csv(cid=lambda c: f"{1.23457e11 + c * 1e6:.5E}"), None, [], ["scientific notation", "row 2"]),
    (
        "float_ids_with_fractions",
        _csv(cid=lambda c: f"{c}.5" if c % 7 == 0 else f"{c}.0"),
        None,
        [],
        ["written both as decimals"],
    ),
    ("nul_in_the_middle", _csv()[:500] + "\x00" + _csv()[500:], None, [], ["NUL byte", "row"]),
    (
        "two_amount_columns",
        _csv(header="customer_id,order_date,amount").replace("\n", ",1\n").replace("amount,1\n", "amount,amount\n", 1),
        None,
        [],
        ["2 columns are named 'amount'"],
    ),
    (
        "two_customer_columns",
        "customer_id,customer_id,order_date,amount\n" + "".join(f"c{c},d{c},{d},{v:.2f}\n" for c, d, v in ROWS),
        None,
        [],
        ["2 columns are named 'customer_id'"],
    ),
    (
        "two_role_columns",
        "customer_id,order_date,amount,total\n" + "".join(f"c{c},{d},{v:.2f},{v:.2f}\n" for c, d, v in ROWS),
        None,
        [],
        ["ambiguous amount column", "--amount-col"],
    ),
    (
        "day_first_ambiguous",
        _csv([r for r in ROWS if int(r[1][8:]) <= 12], date=_dmy),
        None,
        [],
        ["ambiguous", "--date-format %m/%d/%Y"],
    ),
    ("date_format_wrong_for_file", _csv(), None, ["--date-format", "%d/%m/%Y"], ["unreadable date", "--date-format"]),
    ("date_format_not_a_format", _csv(), None, ["--date-format", "hello"], ["--date-format", "'hello'"]),
    ("date_format_without_year", _csv(), None, ["--date-format", "%d/%m"], ["--date-format"]),
    ("date_1850", _csv() + "c1,1850-01-01,100.00\n", None, [], ["1850-01-01", "before 1980"]),
    ("date_9999", _csv() + "c1,9999-01-01,100.00\n", None, [], ["9999-01-01", "in the future"]),
    ("date_2100", _csv() + "c1,2100-01-01,100.00\n", None, [], ["2100-01-01", "in the future"]),
    ("date_feb_30", _csv() + "c1,2024-02-30,100.00\n", None, [], ["unreadable date", "'2024-02-30'"]),
    ("all_zero_amounts", _csv(amount=lambda v: "0"), None, [], ["every amount is 0", "column 'amount'"]),
    ("negative_amount", _csv() + "c1,2024-03-01,-5.00\n", None, [], ["negative amount"]),
    ("text_amount", _csv() + "c1,2024-03-01,lots\n", None, [], ["amount is not a number", "'lots'"]),
    ("infinite_amount", _csv() + "c1,2024-03-01,inf\n", None, [], ["amount is not a number"]),
    ("huge_amount", _csv() + "c1,2024-03-01,1e400\n", None, [], ["amount is not a number"]),
    ("empty_date", _csv() + "c1,,100.00\n", None, [], ["empty date"]),
    ("ragged_row", _csv() + "c1,2024-03-01,100.00,extra,more\n", None, [], ["not a readable CSV"]),
    ("header_only", HEADER, None, [], ["no orders"]),
    ("empty_file", "", None, [], ["is empty"]),
    ("no_header", _csv().split("\n", 1)[1], None, [], ["no header row"]),
    (
        "missing_amount_column",
        "customer_id,order_date\nc1,2024-01-01\n",
        None,
        [],
        ["has no amount column", "amount, order_amount, order_total", "do not matter", "--amount-col"],
    ),
    ("missing_customer_column", "order_date,amount\n2024-01-01,5\n", None, [], ["customer_id, customer, customer_no"]),
    ("amount_col_flag_missing", _csv(), None, ["--amount-col", "price"], ["has no column 'price'"]),
    ("xlsx", b"PK\x03\x04" + b"\x00" * 200, None, [], ["Excel workbook"]),
    ("binary", bytes(range(256)) * 8, None, [], ["not text in UTF-8"]),
    ("binary_zeros", b"\x00\x01" * 2000, None, [], ["binary file"]),
    ("latin1", _csv().replace("customer_id", "client_é").encode("latin-1"), None, [], ["not text in UTF-8"]),
    (
        "spend_missing_month",
        _csv(),
        SPEND_OK.replace("2024-04,search,100000\n", ""),
        [],
        ["no spend rows for 2024-04", "--spend-gaps zero"],
    ),
    (
        "spend_duplicate_month",
        _csv(),
        SPEND_OK + "2024-03,search,100000\n",
        [],
        ["both give the spend of 'search'", "2024-03-01"],
    ),
    (
        "spend_duplicate_day",
        _csv(),
        "date,channel,amount\n2024-01-05,search,10\n2024-01-05,search,10\n",
        [],
        ["both give the spend"],
    ),
    ("spend_gaps_bad_value", _csv(), SPEND_OK, ["--spend-gaps", "maybe"], ["--spend-gaps", "'maybe'"]),
    ("spend_negative", _csv(), SPEND_OK + "2024-12,display,-3\n", [], ["negative amount"]),
    ("spend_no_channel", _csv(), "month,amount\n2024-01,10\n", [], ["has no channel column"]),
    ("spend_1850", _csv(), SPEND_OK + "1850-01,search,1\n", [], ["before 1980"]),
    (
        "spend_decimal_mix",
        _csv(),
        "month;channel;amount\n2024-01;search;1.234,50\n2024-02;search;1,234.50\n",
        [],
        ["mix decimal points and decimal commas"],
    ),
]


FLAG_CASES = {
    "decimal_flag_bad_value": "--decimal",
    "date_format_not_a_format": "--date-format",
    "date_format_without_year": "--date-format",
    "spend_gaps_bad_value": "--spend-gaps",
}


def _culprit(case_id: str) -> str:
    """What the one line must name: the flag, the spend log, or the order log."""
    if case_id in FLAG_CASES:
        return FLAG_CASES[case_id]
    return "spend.csv" if case_id.startswith("spend") else "orders.csv"


@pytest.mark.parametrize("case_id, orders, spend, extra, fragments", REFUSED, ids=[c[0] for c in REFUSED])
def test_hostile_export_is_refused_in_one_line(tmp_path, case_id, orders, spend, extra, fragments):
    path = _write(tmp_path, orders)
    args = list(extra)
    if spend is not None:
        args += ["--spend", _write(tmp_path, spend, "spend.csv")]
    outcome, out = _calibrate(tmp_path, path, *args)
    assert_refused(outcome, _culprit(case_id), *fragments)
    assert not out.parent.exists() or not any(out.parent.iterdir()), "nothing may be written"


SPECIAL = ["fifo", "folder", "device", "symlink_to_device", "missing", "too_big"]


@pytest.mark.parametrize("kind", SPECIAL)
def test_special_input_files_are_refused(tmp_path, kind):
    path = tmp_path / "orders.csv"
    env = {}
    if kind == "fifo":
        os.mkfifo(path)
        fragment = "FIFO"
    elif kind == "folder":
        path.mkdir()
        fragment = "is a folder"
    elif kind == "device":
        path = Path("/dev/zero")
        fragment = "character device"
    elif kind == "symlink_to_device":
        path.symlink_to("/dev/urandom")
        fragment = "character device"
    elif kind == "missing":
        fragment = "file not found"
    else:
        path.write_text(_csv(), encoding="utf-8")
        env = {"SIM_MAX_INPUT_BYTES": "1000"}
        fragment = "SIM_MAX_INPUT_BYTES"
    out = tmp_path / "client" / "scenario.yaml"
    outcome = run_cli(["calibrate", path, "--out", out, "--currency", "EUR"], env=env)
    assert_refused(outcome, path.name, fragment)
    assert not out.exists()


# -- read as meant -----------------------------------------------------------------------------------------


def test_european_decimals_are_read_as_meant(tmp_path):
    us = read_orders(_write(tmp_path, _csv(amount=_us), "us.csv")).transactions
    eu = read_orders(_write(tmp_path, _csv(sep=";", amount=_eu), "eu.csv")).transactions
    assert np.allclose(us["amount"], eu["amount"])
    assert 30_000 < eu["amount"].mean() < 60_000  # about 42,500, not 42.5 or 67
    flag = read_orders(
        _write(tmp_path, _csv(amount=lambda v: f"{int(v) // 1000}.{int(v) % 1000:03d}", sep=";"), "dots.csv"),
        decimal=",",
    ).transactions
    assert flag["amount"].min() >= 1_000  # 42.500 read as 42500 when --decimal , says so


def test_korean_thousands_separators_are_read_as_meant(tmp_path):
    tx = read_orders(_write(tmp_path, _csv(amount=lambda v: f'"{int(v):,}원"'))).transactions
    assert tx["amount"].mean() > 30_000


def test_float_written_ids_are_one_customer(tmp_path):
    plain = read_orders(_write(tmp_path, _csv(cid=str), "plain.csv"))
    mixed = read_orders(_write(tmp_path, _csv(cid=lambda c: f"{c}.0" if c % 2 else str(c)), "mixed.csv"))
    assert mixed.transactions["customer_id"].nunique() == plain.transactions["customer_id"].nunique()
    assert any("written as decimals" in w for w in mixed.warnings)


def test_day_first_dates_are_read_day_first(tmp_path):
    iso = read_orders(_write(tmp_path, _csv(), "iso.csv")).transactions
    dmy = read_orders(_write(tmp_path, _csv(date=_dmy), "dmy.csv")).transactions  # days above 12 tell
    assert (iso["date"].to_numpy() == dmy["date"].to_numpy()).all()
    ambiguous = [r for r in ROWS if int(r[1][8:]) <= 12]
    given = read_orders(_write(tmp_path, _csv(ambiguous, date=_dmy), "amb.csv"), date_format="%d/%m/%Y")
    assert given.first_date.month == int(min(r[1] for r in ambiguous)[5:7])


def test_spend_gaps_filled_only_when_asked(tmp_path):
    path = _write(tmp_path, SPEND_OK.replace("2024-04,search,100000\n", ""), "spend.csv")
    table = read_spend(path, fill_gaps=True)
    assert table.loc["2024-04-01", "search"] == 0.0
    assert table.attrs["filled_months"] == ["2024-04"]
    assert table.loc["2024-03-01", "search"] == 100000.0  # nothing doubled


def test_calibrated_order_value_from_european_export_is_right(tmp_path):
    path = _write(tmp_path, _csv(sep=";", amount=_eu))
    outcome, out = _calibrate(tmp_path, path)
    assert outcome.code == 0, outcome.stderr
    from sim.model.scenario import load_scenario

    value = load_scenario(out).economics.order_value_mean
    assert 30_000 < value < 60_000


def test_real_process_refuses_a_hostile_export(tmp_path):
    path = _write(tmp_path, _csv()[:300] + "\x00" + _csv()[300:])
    out = tmp_path / "client" / "scenario.yaml"
    outcome = run_subprocess(["calibrate", path, "--out", out, "--currency", "EUR"])
    assert outcome.stdout == ""
    assert_refused(outcome, "orders.csv", "NUL byte")
    assert not out.parent.exists()
