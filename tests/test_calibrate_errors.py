"""Bad input to `sim calibrate` and `sim forecast`: one clear line naming the file, row and column; exit 2;
no traceback; nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sim.calibration.mbgnbd import simulate_transactions
from sim.cli import app

runner = CliRunner()
HEADER = "customer_id,order_date,amount\n"


def _orders_text(n_customers: int = 150, seed: int = 1, repeat: bool = True) -> str:
    """A small valid order log: MBG/NBD customers over 2024 (seeded); without repeats if asked."""
    rng = np.random.default_rng(seed)
    cust, day = simulate_transactions(n_customers, 0.8, 40.0, 1.0, 3.0, 365, rng)
    if not repeat:
        first = np.r_[True, cust[1:] != cust[:-1]]
        cust, day = cust[first], day[first]
    dates = np.datetime64("2024-01-01") + day.astype("timedelta64[D]")
    values = rng.gamma(2.0, 15.0, size=len(cust))
    return HEADER + "".join(f"c{c},{d},{v:.2f}\n" for c, d, v in zip(cust, dates, values, strict=True))


def _call(args: list[str]):
    result = runner.invoke(app, args)
    return result


def _assert_clean_error(result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    err = result.stderr.strip()
    assert err.startswith("error: "), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def _calibrate(tmp_path: Path, orders: Path, *extra: str):
    out = tmp_path / "out" / "scenario.yaml"
    result = _call(["calibrate", str(orders), "--out", str(out), "--currency", "USD", *extra])
    return result, out


def _write(tmp_path: Path, text: str | bytes, name: str = "orders.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def _nothing_written(out: Path) -> None:
    assert not out.exists()
    folder = out.parent
    if folder.exists():
        assert not list(folder.iterdir()), list(folder.iterdir())


def test_missing_file(tmp_path):
    result, out = _calibrate(tmp_path, tmp_path / "nope.csv")
    _assert_clean_error(result, "nope.csv", "file not found")
    _nothing_written(out)


def test_empty_file(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, ""))
    _assert_clean_error(result, "orders.csv", "is empty")
    _nothing_written(out)


def test_header_but_no_orders(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, HEADER))
    _assert_clean_error(result, "orders.csv", "no orders", "row 2")
    _nothing_written(out)


def test_no_header_row(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, "c1,2024-01-05,30\nc2,2024-01-06,20\n"))
    _assert_clean_error(result, "orders.csv", "no header row", "row 1")
    _nothing_written(out)


def test_missing_amount_column(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, "customer_id,order_date,colour\nc1,2024-01-05,red\n"))
    _assert_clean_error(result, "orders.csv", "no amount column", "--amount-col")
    _nothing_written(out)


def test_ambiguous_amount_columns(tmp_path):
    text = "고객번호,주문일자,주문금액,결제금액\nc1,2024-01-05,100,90\n"
    result, out = _calibrate(tmp_path, _write(tmp_path, text))
    _assert_clean_error(result, "orders.csv", "ambiguous amount column", "주문금액", "결제금액", "--amount-col")
    _nothing_written(out)


def test_flag_names_a_column_that_is_not_there(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, _orders_text()), "--customer-col", "member")
    _assert_clean_error(result, "orders.csv", "no column 'member'", "--customer-col")
    _nothing_written(out)


def test_unparseable_date(tmp_path):
    text = HEADER + "c1,2024-01-05,30\nc2,2024-01-06,20\nc3,31st of June,20\n"
    result, out = _calibrate(tmp_path, _write(tmp_path, text))
    _assert_clean_error(result, "orders.csv", "row 4", "column 'order_date'", "unreadable date", "31st of June")
    _nothing_written(out)


def test_order_date_in_the_future(tmp_path):
    text = _orders_text() + "c9,2099-01-01,30\n"
    n_rows = text.count("\n")
    result, out = _calibrate(tmp_path, _write(tmp_path, text))
    _assert_clean_error(result, "orders.csv", f"row {n_rows}", "in the future", "2099-01-01")
    _nothing_written(out)


def test_until_in_the_future(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, _orders_text()), "--until", "2099-12-31")
    _assert_clean_error(result, "--until", "in the future")
    _nothing_written(out)


def test_until_not_a_date(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, _orders_text()), "--until", "last spring")
    _assert_clean_error(result, "--until", "not a date")
    _nothing_written(out)


def test_until_before_every_order(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, _orders_text()), "--until", "2020-01-01")
    _assert_clean_error(result, "orders.csv", "no orders on or before --until")
    _nothing_written(out)


def test_negative_amount(tmp_path):
    text = HEADER + "c1,2024-01-05,30\nc2,2024-01-06,-20\n"
    result, out = _calibrate(tmp_path, _write(tmp_path, text))
    _assert_clean_error(result, "orders.csv", "row 3", "column 'amount'", "negative amount")
    _nothing_written(out)


def test_non_numeric_amount(tmp_path):
    text = HEADER + "c1,2024-01-05,30\nc2,2024-01-06,twenty\n"
    result, out = _calibrate(tmp_path, _write(tmp_path, text))
    _assert_clean_error(result, "orders.csv", "row 3", "column 'amount'", "not a number", "twenty")
    _nothing_written(out)


def test_customer_id_column_empty(tmp_path):
    text = HEADER + ",2024-01-05,30\n,2024-01-06,20\n"
    result, out = _calibrate(tmp_path, _write(tmp_path, text))
    _assert_clean_error(result, "orders.csv", "customer id column is empty", "customer_id")
    _nothing_written(out)


def test_binary_file(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, bytes(range(256)) * 4, "orders.bin"))
    _assert_clean_error(result, "orders.bin", "binary")
    _nothing_written(out)


def test_excel_workbook_instead_of_csv(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, b"PK\x03\x04" + b"\x14\x00" * 200, "orders.xlsx"))
    _assert_clean_error(result, "orders.xlsx", "Excel", "save it as CSV")
    _nothing_written(out)


def test_text_that_is_not_csv(tmp_path):
    text = "Dear team\nplease find the orders attached\nregards\n"
    result, out = _calibrate(tmp_path, _write(tmp_path, text, "orders.txt"))
    _assert_clean_error(result, "orders.txt", "not a CSV file", "row 1")
    _nothing_written(out)


def test_too_few_customers_says_how_many_are_needed(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, _orders_text(n_customers=40)))
    _assert_clean_error(result, "orders.csv", "too few customers", "40", "at least 100")
    _nothing_written(out)


def test_fit_that_does_not_converge_says_what_to_try(tmp_path):
    result, out = _calibrate(tmp_path, _write(tmp_path, _orders_text(n_customers=150, repeat=False)))
    _assert_clean_error(result, "orders.csv", "did not converge", "0 repeat buyers", "longer history")
    _nothing_written(out)


def test_spend_log_without_channel_column(tmp_path):
    orders = _write(tmp_path, _orders_text())
    spend = _write(tmp_path, "month,amount\n2024-01,100\n", "spend.csv")
    result, out = _calibrate(tmp_path, orders, "--spend", str(spend))
    _assert_clean_error(result, "spend.csv", "no channel column")
    _nothing_written(out)


def test_out_must_be_a_yaml_file(tmp_path):
    out = tmp_path / "scenario.txt"
    result = _call(["calibrate", str(_write(tmp_path, _orders_text())), "--out", str(out), "--currency", "USD"])
    _assert_clean_error(result, "--out", ".yaml")
    assert not out.exists()


@pytest.mark.parametrize("weeks", ["0", "9999"])
def test_forecast_weeks_out_of_range(tmp_path, weeks):
    orders = _write(tmp_path, _orders_text())
    scen = tmp_path / "s.yaml"
    assert _call(["calibrate", str(orders), "--out", str(scen), "--currency", "USD"]).exit_code == 0
    out = tmp_path / "f.csv"
    result = _call(["forecast", str(scen), "--weeks", weeks, "--out", str(out)])
    _assert_clean_error(result, "--weeks", "out of range")
    assert not out.exists()


def test_forecast_missing_scenario(tmp_path):
    out = tmp_path / "f.csv"
    result = _call(["forecast", str(tmp_path / "none.yaml"), "--weeks", "4", "--out", str(out)])
    _assert_clean_error(result, "none.yaml", "file not found")
    assert not out.exists()


def test_spend_log_that_does_not_cover_the_order_log(tmp_path):
    orders = _write(tmp_path, _orders_text())
    spend = _write(tmp_path, "month,channel,amount\n2024-11,search,100\n2024-12,search,200\n", "spend.csv")
    result, out = _calibrate(tmp_path, orders, "--spend", str(spend))
    _assert_clean_error(result, "spend.csv", "fewer than 4 full months", "found: 1 month)")
    _nothing_written(out)


def test_calibrate_korean_excel_export_end_to_end(tmp_path):
    export = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"
    out = tmp_path / "ko.yaml"
    result = _call(["calibrate", str(export / "orders_ko.csv"), "--out", str(out), "--currency", "KRW"])
    assert result.exit_code == 0, result.output
    assert "MBG/NBD (days)" in result.stdout and "holdout tracking error" in result.stdout
    assert out.exists() and (tmp_path / "ko.customers.csv").exists()
    assert _call(["validate", str(out)]).exit_code == 0


@pytest.mark.parametrize(
    "flags, needles",
    [
        (["--split", "front=0.5,back=0.5"], ["--split", "needs a budget"]),
        (["--budget", "100", "--split", "front=0.5,retention=0.5"], ["--split", "not a purpose share"]),
        (["--budget", "100", "--channel-split", "front=1"], ["--channel-split", "purpose:channel=share"]),
        (["--budget", "100", "--channel-split", "front:tv=1"], ["--channel-split", "no reach curve", "front:tv"]),
        (["--model", "weibull"], ["--model", "unknown model"]),
        (["--market-size", "10"], ["--market-size", "smaller than the customers"]),
        (["--currency", "won"], ["--currency", "ISO 4217"]),
    ],
)
def test_bad_plan_and_model_flags(tmp_path, flags, needles):
    orders = _write(tmp_path, _orders_text())
    result, out = _calibrate(tmp_path, orders, *flags)
    _assert_clean_error(result, *needles)
    _nothing_written(out)


def test_score_needs_a_snapshot(tmp_path):
    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "scenarios" / "early_stage_d2c.yaml"
    result = _call(["score", str(sample), "--weeks", "4", "--out", str(tmp_path / "s.csv")])
    _assert_clean_error(result, "snapshot")
    assert not (tmp_path / "s.csv").exists()
