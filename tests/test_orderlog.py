"""Reading client exports: headers in English and Korean, encodings, date formats, same-day merging."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.calibration.orderlog import read_orders, read_spend
from sim.errors import DataError

EXPORT = Path(__file__).resolve().parents[1] / "data" / "samples" / "client_export"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_sample_export_utf8_and_korean_cp949_read_the_same():
    en = read_orders(EXPORT / "orders.csv")
    ko = read_orders(EXPORT / "orders_ko.csv")
    assert ko.encoding == "cp949"
    assert ko.columns == {"customer_id": "고객번호", "order_date": "주문일자", "amount": "결제금액"}
    pd.testing.assert_frame_equal(en.transactions, ko.transactions)
    # the export splits some orders into two same-day lines: they are merged into one transaction
    assert en.raw_orders > len(en.transactions)
    assert not en.transactions.duplicated(["customer_id", "date"]).any()


def test_korean_headers_utf8_bom_and_korean_dates(tmp_path):
    text = '주문번호,고객번호,주문일자,결제금액\nA1,k1,2024. 1. 5.,"38,000"\nA2,k1,2024년 2월 7일,12000원\nA3,k2,2024. 3. 1.,₩5000\n'
    log = read_orders(_write(tmp_path / "ko.csv", text, "utf-8-sig"))
    tx = log.transactions
    assert list(tx["customer_id"]) == ["k1", "k1", "k2"]
    assert list(tx["date"].dt.strftime("%Y-%m-%d")) == ["2024-01-05", "2024-02-07", "2024-03-01"]
    assert list(tx["amount"]) == [38000.0, 12000.0, 5000.0]


@pytest.mark.parametrize(
    "dates",
    [
        ["2024-01-05", "2024-02-07 13:45:00"],
        ["2024/01/05", "2024/02/07"],
        ["20240105", "20240207"],
        ["01/05/2024", "02/07/2024", "12/31/2024"],  # month first: the 31st says so
        ["05.01.2024", "07.02.2024"],  # day first with dots: Europe's way, no other reading
        ["2024.01.05", "2024.02.07"],
        ["2024-01-05 오전 9:05:00", "2024-02-07 오후 1:45:00"],
    ],
)
def test_usual_date_formats(tmp_path, dates):
    text = "customer_id,order_date,amount\n" + "".join(f"c{i},{d},10\n" for i, d in enumerate(dates))
    tx = read_orders(_write(tmp_path / "o.csv", text)).transactions.sort_values("date")
    assert list(tx["date"].dt.strftime("%Y-%m-%d"))[:2] == ["2024-01-05", "2024-02-07"]


def test_slash_dates_that_fit_both_orders_are_refused_unless_the_format_is_given(tmp_path):
    text = "customer_id,order_date,amount\nc1,01/05/2024,10\nc2,02/07/2024,10\n"
    with pytest.raises(DataError, match="ambiguous") as info:
        read_orders(_write(tmp_path / "o.csv", text))
    assert "--date-format" in str(info.value)
    tx = read_orders(_write(tmp_path / "o.csv", text), date_format="%d/%m/%Y").transactions.sort_values("date")
    assert list(tx["date"].dt.strftime("%Y-%m-%d")) == ["2024-05-01", "2024-07-02"]


def test_same_day_orders_are_one_transaction_and_until_cuts(tmp_path):
    text = "customer,date,total\nA,2024-01-01,10\nA,2024-01-01,5\nA,2024-01-03,7\nB,2024-01-02,3\nA,2024-02-01,9\n"
    log = read_orders(_write(tmp_path / "o.csv", text), until=pd.Timestamp("2024-01-31"))
    tx = log.transactions
    assert len(tx) == 3
    assert tx.loc[(tx.customer_id == "A") & (tx.date == "2024-01-01"), "amount"].item() == 15.0
    assert any("after --until" in w for w in log.warnings)


def test_column_flags_and_semicolon_delimiter(tmp_path):
    text = "kunde;datum;betrag;total\nA;2024-01-01;10;99\nB;2024-01-02;3;99\n"
    log = read_orders(_write(tmp_path / "o.csv", text), customer_col="kunde", date_col="datum", amount_col="betrag")
    assert np.allclose(log.transactions["amount"], [10, 3])


def test_guest_orders_without_id_are_left_out_with_a_warning(tmp_path):
    text = "customer_id,order_date,amount\nA,2024-01-01,10\n,2024-01-02,3\n"
    log = read_orders(_write(tmp_path / "o.csv", text))
    assert len(log.transactions) == 1
    assert "row 3" in log.warnings[0]


def test_spend_log_monthly_by_channel():
    spend = read_spend(EXPORT / "spend.csv")
    assert list(spend.columns) == sorted(["search_ads", "sns_content", "influencer"])
    assert len(spend) == 24 and spend.index[0] == pd.Timestamp("2024-01-01")
    assert (spend > 0).all().all()


def test_error_fields_name_file_row_and_column(tmp_path):
    path = _write(tmp_path / "o.csv", "customer_id,order_date,amount\nA,2024-01-01,10\nB,yesterday,3\n")
    with pytest.raises(DataError) as info:
        read_orders(path)
    err = info.value
    assert err.file == str(path)
    assert err.location == "row 3, column 'order_date'"
    assert err.found == "'yesterday'"
