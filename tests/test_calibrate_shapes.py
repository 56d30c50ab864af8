"""Three shapes of real client exports that `sim calibrate` refused, read now or refused naming the flag.

Shopify's order export writes one row per line item and the order's own fields (its total, often its customer
and date, its financial status) on the first line only: it was refused as 'empty amount'. Refunds written as
negative rows were refused with no way through; `--refunds net` subtracts each from its order and `--refunds
drop` leaves them out. A totals row that a spreadsheet adds at the foot of an export was refused as 'empty date'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from test_calibrate_exports import HISTORY, _calibrate, _csv, _refused, _truth

from sim.calibration.orderlog import read_orders
from sim.errors import DataError

# The header of Shopify's order export (Orders -> Export -> CSV for Excel), in its order.
SHOPIFY_HEADER = (
    "Name,Email,Financial Status,Paid at,Fulfillment Status,Fulfilled at,Accepts Marketing,Currency,Subtotal,"
    "Shipping,Taxes,Total,Discount Code,Discount Amount,Shipping Method,Created at,Lineitem quantity,Lineitem name,"
    "Lineitem price,Lineitem compare at price,Lineitem sku,Lineitem requires shipping,Lineitem taxable,"
    "Lineitem fulfillment status,Billing Name,Billing Street,Billing Address1,Billing Address2,Billing Company,"
    "Billing City,Billing Zip,Billing Province,Billing Country,Billing Phone,Shipping Name,Shipping Street,"
    "Shipping Address1,Shipping Address2,Shipping Company,Shipping City,Shipping Zip,Shipping Province,"
    "Shipping Country,Shipping Phone,Notes,Note Attributes,Cancelled at,Payment Method,Payment Reference,"
    "Refunded Amount,Vendor,Outstanding Balance,Employee,Location,Device ID,Id,Tags,Risk Level,Source,"
    "Lineitem discount,Tax 1 Name,Tax 1 Value,Tax 2 Name,Tax 2 Value,Tax 3 Name,Tax 3 Value,Tax 4 Name,"
    "Tax 4 Value,Tax 5 Name,Tax 5 Value,Phone,Receipt Number,Duties,Billing Province Name,Shipping Province Name,"
    "Payment ID,Payment Terms Name,Next Payment Due At,Payment References"
).split(",")


def _shopify(history: pd.DataFrame, statuses: np.ndarray) -> pd.DataFrame:
    """`history` as Shopify exports it: newest order first, 1 to 3 line items an order, the order's fields on its
    first line; every other order repeats its email and time on the later lines (exports differ in this)."""
    rows = []
    for k in range(len(history) - 1, -1, -1):
        order = history.iloc[k]
        n_lines = 1 + k % 3
        total = float(order["amount"])
        prices = np.full(n_lines, np.floor(total / n_lines / 100) * 100)
        prices[0] += total - prices.sum()
        created = order["day"] + pd.Timedelta(hours=9 + k % 12, minutes=k % 60)
        stamp = f"{created:%Y-%m-%d %H:%M:%S} +0900"
        email = f"{order['customer_id'].lower()}@example.com"
        for line in range(n_lines):
            row = dict.fromkeys(SHOPIFY_HEADER, "")
            row.update(
                {
                    "Name": f"#{1001 + k}",
                    "Lineitem quantity": "1",
                    "Lineitem name": f"Linen shirt - size {line + 1}",
                    "Lineitem price": f"{prices[line]:.2f}",
                    "Lineitem sku": f"LS-{line + 1}",
                    "Lineitem requires shipping": "true",
                    "Lineitem taxable": "true",
                    "Lineitem fulfillment status": "fulfilled",
                    "Vendor": "Harbour & Co",
                    "Lineitem discount": "0.00",
                }
            )
            if line == 0:
                row.update(
                    {
                        "Email": email,
                        "Financial Status": statuses[k],
                        "Paid at": stamp,
                        "Fulfillment Status": "fulfilled",
                        "Accepts Marketing": "no",
                        "Currency": "KRW",
                        "Subtotal": f"{total:.2f}",
                        "Shipping": "0.00",
                        "Taxes": "0.00",
                        "Total": f"{total:.2f}",
                        "Discount Amount": "0.00",
                        "Shipping Method": "Standard",
                        "Created at": stamp,
                        "Billing Name": "Kim, Jisoo",
                        "Billing City": "Seoul",
                        "Payment Method": "Shopify Payments",
                        "Refunded Amount": f"{total:.2f}" if statuses[k] == "refunded" else "0.00",
                        "Id": str(5_100_000 + k),
                        "Risk Level": "Low",
                        "Source": "web",
                    }
                )
            elif k % 2:
                row.update({"Email": email, "Created at": stamp})
            rows.append(row)
    return pd.DataFrame(rows, columns=SHOPIFY_HEADER)


def _statuses(n: int) -> np.ndarray:
    return np.array(
        ["refunded" if k % 13 == 0 else "voided" if k % 17 == 0 else "paid" for k in range(n)], dtype=object
    )


# -- Shopify's line items ----------------------------------------------------------------------------------


def test_a_shopify_line_item_export_reads_each_order_once(tmp_path):
    statuses = _statuses(len(HISTORY))
    statuses[5] = "partially_refunded"  # bought: its total stays
    export = _shopify(HISTORY, statuses)
    path = tmp_path / "orders_export.csv"
    export.to_csv(path, index=False)
    assert len(export) > 1.8 * len(HISTORY)  # line items: about two rows an order
    bought = HISTORY[~np.isin(statuses, ["refunded", "voided"])]
    log = read_orders(path)
    assert log.columns == {"customer_id": "Email", "order_date": "Created at", "amount": "Total"}
    assert log.raw_orders == len(bought)
    assert log.transactions["customer_id"].nunique() == bought["customer_id"].nunique()
    assert np.isclose(log.transactions["amount"].mean(), _truth(bought).mean())
    assert len(log.transactions) == len(_truth(bought))
    left_out = next(w for w in log.warnings if "left out as not bought" in w)
    assert (
        "'refunded', 'voided'" in left_out and "'Financial Status'" in left_out and "later lines of theirs" in left_out
    )
    assert any("read once, with the total on its first line" in w for w in log.warnings)

    outcome, out = _calibrate(tmp_path, path)
    assert outcome.code == 0, outcome.stderr
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["calibration"]["data"]["customers"] == bought["customer_id"].nunique()
    assert data["calibration"]["data"]["orders"] == len(bought)
    assert data["economics"]["order_value_mean"] == pytest.approx(_truth(bought).mean(), rel=0.02)


def test_a_shopify_order_without_its_total_on_the_first_line_is_refused(tmp_path):
    export = _shopify(HISTORY, _statuses(len(HISTORY)))
    lines = export.index[export["Name"] == "#1003"]  # k = 2: three lines
    export.loc[lines[1], "Total"], export.loc[lines[0], "Total"] = export.loc[lines[0], "Total"], ""
    path = tmp_path / "orders_export.csv"
    export.to_csv(path, index=False)
    outcome, out = _calibrate(tmp_path, path)
    _refused(outcome, out, "orders_export.csv", f"row {lines[0] + 2}", "order '#1003' has no amount on its first line")


def test_later_lines_with_and_without_their_own_amounts_in_one_export_are_refused(tmp_path):
    """Order lines with amounts (added up) beside orders whose later lines have none: a missing amount?"""
    lines = pd.concat([HISTORY.assign(amount=HISTORY["amount"] * 0.75), HISTORY.assign(amount=HISTORY["amount"] / 4)])
    lines = lines.sort_values("order_id", kind="stable").reset_index(drop=True).astype({"amount": object})
    lines.loc[9, "amount"] = ""  # the second line of the fifth order
    path = _csv(lines, tmp_path / "orders.csv")
    with pytest.raises(DataError, match=r"later lines of order 'O000004' leave the amount empty \(row 11\), but"):
        read_orders(path)


def test_a_later_line_under_another_customer_is_refused(tmp_path):
    export = _shopify(HISTORY, _statuses(len(HISTORY)))
    second = export.index[export["Name"] == "#1002"][1]
    export.loc[second, "Email"] = "someone.else@example.com"
    path = tmp_path / "orders_export.csv"
    export.to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"order id '#1002' is on rows {second + 1} and {second + 2} with different"):
        read_orders(path)


def test_an_order_id_column_not_recognized_is_named_by_order_col(tmp_path):
    lines = pd.concat([HISTORY.assign(sku="a"), HISTORY.assign(sku="b", amount="")])  # the total on the first line
    lines = lines.sort_values("order_id", kind="stable").rename(columns={"order_id": "Order No."})
    path = _csv(lines, tmp_path / "orders.csv")
    with pytest.raises(DataError, match=r"empty amount; allowed: .* name the order id column with --order-col"):
        read_orders(path)
    log = read_orders(path, order_col="Order No.")
    assert log.raw_orders == len(HISTORY)
    assert np.isclose(log.transactions["amount"].mean(), _truth(HISTORY).mean())


# -- refunds as negative rows ------------------------------------------------------------------------------


def _with_refunds(history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """`history` with refund rows ten days after their orders: every 7th order in full, every 5th in half. Also
    what the export means once netted, and the number of orders refunded in full."""
    full = history.iloc[::7]
    half = history.iloc[3::5].drop(full.index, errors="ignore")
    refunds = pd.concat([full, half.assign(amount=half["amount"] / 2)])
    refunds = refunds.assign(amount=-refunds["amount"], day=refunds["day"] + pd.Timedelta(days=10))
    cut = history["day"].max()
    refunds = refunds[refunds["day"] <= cut]  # none after the last order: that is --until's case
    netted = history.drop(full.index.intersection(refunds.index))
    late_half = half.index.intersection(refunds.index)
    netted.loc[late_half, "amount"] = netted.loc[late_half, "amount"] / 2
    export = pd.concat([history, refunds]).sort_values("day", kind="stable").reset_index(drop=True)
    return export, netted, len(full.index.intersection(refunds.index))


def test_refund_rows_are_refused_naming_the_flag_that_reads_them(tmp_path):
    export, _, _ = _with_refunds(HISTORY)
    outcome, out = _calibrate(tmp_path, _csv(export, tmp_path / "orders.csv"))
    _refused(outcome, out, "orders.csv", "negative amount", "--refunds net", "--refunds drop")


def test_refunds_net_subtracts_each_from_its_order_and_makes_no_purchase(tmp_path):
    export, netted, n_full = _with_refunds(HISTORY)
    path = _csv(export, tmp_path / "orders.csv")
    log = read_orders(path, refunds="net")
    assert log.raw_orders == len(netted)
    assert np.isclose(log.transactions["amount"].sum(), netted["amount"].sum())
    truth = _truth(netted)
    assert len(log.transactions) == len(truth)  # a refund's own date is no purchase day (and no repeat purchase)
    assert log.transactions["customer_id"].nunique() == netted["customer_id"].nunique()
    assert np.isclose(log.transactions["amount"].mean(), truth.mean())
    assert any(f"{n_full} orders refunded in full" in w for w in log.warnings)

    outcome, out = _calibrate(tmp_path, path, "--refunds", "net")
    assert outcome.code == 0, outcome.stderr
    data = yaml.safe_load(out.read_text(encoding="utf-8"))["calibration"]["data"]
    assert data["orders"] == len(netted) and data["customers"] == netted["customer_id"].nunique()
    assert data["repeat_transactions"] == len(truth) - netted["customer_id"].nunique()


def test_refunds_drop_leaves_them_out_and_counts_the_orders_in_full(tmp_path):
    export, _, _ = _with_refunds(HISTORY)
    log = read_orders(_csv(export, tmp_path / "orders.csv"), refunds="drop")
    assert log.raw_orders == len(HISTORY)
    assert np.isclose(log.transactions["amount"].mean(), _truth(HISTORY).mean())
    assert any("were left out (--refunds drop)" in w for w in log.warnings)


def test_refunds_net_refuses_what_it_cannot_place(tmp_path):
    export, _, _ = _with_refunds(HISTORY)
    refund = export.index[export["amount"] < 0][0]
    row = list(export.index).index(refund) + 2
    nameless = export.copy()
    nameless.loc[refund, "order_id"] = ""
    with pytest.raises(
        DataError, match=rf"row {row}, column 'order_id': a refund \(negative amount\) without an order"
    ):
        read_orders(_csv(nameless, tmp_path / "orders.csv"), refunds="net")
    stranger = export.copy()
    stranger.loc[refund, "order_id"] = "O999999"
    with pytest.raises(DataError, match=r"names order 'O999999', which the export does not hold"):
        read_orders(_csv(stranger, tmp_path / "orders.csv"), refunds="net")
    with pytest.raises(DataError, match=r"no order id column; allowed: .*--refunds drop"):
        read_orders(_csv(export.drop(columns="order_id"), tmp_path / "orders.csv"), refunds="net")
    outcome, out = _calibrate(tmp_path, _csv(export, tmp_path / "orders.csv"), "--refunds", "subtract")
    _refused(outcome, out, "--refunds", "'subtract'", "error, net, drop")


def test_refunds_after_until_and_refunds_of_cancelled_orders(tmp_path):
    export, _, _ = _with_refunds(HISTORY)
    cut = pd.Timestamp("2025-09-30")
    first = HISTORY["order_id"].iloc[0]  # refunded in full, and cancelled: its refund row says 'paid'
    status = np.where((export["order_id"] == first) & (export["amount"] > 0), "cancelled", "paid")
    log = read_orders(_csv(export.assign(status=status), tmp_path / "orders.csv"), refunds="net", until=cut)
    bought = HISTORY[(HISTORY["day"] <= cut) & (HISTORY.index != 0)]
    refunds = export[(export["amount"] < 0) & (export["day"] <= cut) & (export["order_id"] != first)]
    gone = refunds["amount"] + HISTORY.set_index("order_id")["amount"].reindex(refunds["order_id"]).to_numpy() <= 0
    assert log.raw_orders == len(bought) - int(gone.sum())
    assert np.isclose(log.transactions["amount"].sum(), bought["amount"].sum() + refunds["amount"].sum())
    assert any("refunds after --until 2025-09-30 were ignored" in w for w in log.warnings)


# -- a totals row at the foot ------------------------------------------------------------------------------


def _with_foot(frame: pd.DataFrame, amount: str) -> pd.DataFrame:
    foot = pd.DataFrame({"order_id": [""], "customer_id": [""], "order_date": [""], "amount": [amount]})
    body = frame.rename(columns={"day": "order_date"}).assign(
        order_date=lambda f: f["order_date"].dt.strftime("%Y-%m-%d")
    )
    return pd.concat([body.astype({"amount": object}), foot], ignore_index=True)


def test_a_totals_row_at_the_foot_is_left_out_when_it_is_the_sum(tmp_path):
    path = tmp_path / "orders.csv"
    _with_foot(HISTORY, f"{HISTORY['amount'].sum():.2f}").to_csv(path, index=False)
    outcome, out = _calibrate(tmp_path, path)
    assert outcome.code == 0, outcome.stderr
    row = len(HISTORY) + 2
    assert f"row {row}, the last, has no date and no customer" in outcome.stdout
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["calibration"]["data"]["orders"] == len(HISTORY)
    assert data["economics"]["order_value_mean"] == pytest.approx(_truth(HISTORY).mean(), rel=0.02)


def test_a_last_row_without_a_date_that_is_not_the_sum_is_refused_as_a_summary_row(tmp_path):
    path = tmp_path / "orders.csv"
    _with_foot(HISTORY, f"{HISTORY['amount'].sum() - 100:.2f}").to_csv(path, index=False)
    outcome, out = _calibrate(tmp_path, path)
    _refused(outcome, out, f"row {len(HISTORY) + 2}", "looks like a totals or summary row", "remove the row")
    middle = _with_foot(HISTORY, f"{HISTORY['amount'].sum():.2f}")
    middle.loc[7, "order_date"] = ""  # any other row without a date is refused as before
    middle.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"row 9, column 'order_date': empty date"):
        read_orders(path)


# -- the order's total repeated on every line ---------------------------------------------------------------


ORDER_FIELDS = ("Email", "Financial Status", "Paid at", "Currency", "Subtotal", "Total", "Created at", "Id")


def _filled_down(export: pd.DataFrame) -> pd.DataFrame:
    """A Shopify export re-saved with the order's own fields filled down onto its later lines."""
    out = export.copy()
    cols = list(ORDER_FIELDS)
    out[cols] = out[cols].replace("", np.nan).groupby(out["Name"]).ffill().fillna("")
    return out


def _summary(data: dict) -> tuple[int, int, int]:
    return data["customers"], data["orders"], data["repeat_transactions"]


def test_a_total_repeated_on_every_line_is_refused_then_read_once_with_order_amount_total(tmp_path):
    statuses = np.full(len(HISTORY), "paid", dtype=object)
    export = _filled_down(_shopify(HISTORY, statuses))
    path = tmp_path / "orders_export.csv"
    export.to_csv(path, index=False)
    multi = export["Name"].duplicated(keep=False)
    assert (export.loc[multi].groupby("Name")["Total"].nunique() == 1).all() and multi.sum() > 200
    outcome, out = _calibrate(tmp_path, path)
    message = _refused(
        outcome, out, "orders_export.csv", "column 'Total'", "--order-amount total", "--order-amount lines"
    )
    assert "order '#1" in message and "carries one amount on all its lines" in message
    assert f"every one of the {len(export.loc[multi, 'Name'].unique())} orders with more than one line" in message

    outcome, out = _calibrate(tmp_path, path, "--order-amount", "total")
    assert outcome.code == 0, outcome.stderr
    assert "repeat their order's amount: each order was read once" in outcome.stdout
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    truth = _truth(HISTORY)
    n = HISTORY["customer_id"].nunique()
    assert _summary(data["calibration"]["data"]) == (n, len(HISTORY), len(truth) - n)
    assert data["economics"]["order_value_mean"] == pytest.approx(truth.mean(), rel=0.02)

    summed = read_orders(path, order_amount="lines")  # as before: each line's amount added up
    assert np.isclose(summed.transactions["amount"].sum(), pd.to_numeric(export["Total"]).sum())
    assert summed.transactions["amount"].sum() > 1.8 * HISTORY["amount"].sum()
    assert summed.raw_orders == len(HISTORY)


def test_a_korean_export_repeating_the_payment_on_each_line_reads_once(tmp_path):
    """Cafe24-style: 주문번호 on every line, 결제금액 (what the order paid) repeated, 판매가 the line's price."""
    rows = []
    for k, order in HISTORY.iterrows():
        n_lines = 1 + k % 3
        for line in range(n_lines):
            rows.append(
                {
                    "주문번호": f"2025{k:08d}",
                    "주문자ID": order["customer_id"],
                    "주문일시": f"{order['day']:%Y-%m-%d} 14:{line:02d}:00",
                    "상품명": f"상품 {line}",
                    "판매가": f"{order['amount'] / n_lines:.0f}",
                    "결제금액": f"{order['amount']:.0f}",
                }
            )
    path = tmp_path / "orders.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="cp949")
    with pytest.raises(DataError, match=r"column '결제금액': every one of the \d+ orders with more than one line"):
        read_orders(path)
    log = read_orders(path, order_amount="total")
    truth = _truth(HISTORY)
    assert log.raw_orders == len(HISTORY) and len(log.transactions) == len(truth)
    assert log.transactions["customer_id"].nunique() == HISTORY["customer_id"].nunique()
    assert np.isclose(log.transactions["amount"].mean(), truth.mean())


def test_a_line_priced_export_with_a_few_equal_lines_reads_as_before_counting_orders(tmp_path):
    """Two lines of one item in a few orders, the others' lines priced apart: no repeated total; `orders` counts
    orders (it counted lines), the transactions and order values as before."""
    first = HISTORY.assign(amount=HISTORY["amount"] * 0.75, sku="a")
    second = HISTORY.assign(amount=HISTORY["amount"] * 0.25, sku="b")
    equal = HISTORY.index[:6]  # six orders of two equal lines: two of one item
    first.loc[equal, "amount"] = second.loc[equal, "amount"] = HISTORY.loc[equal, "amount"] / 2
    lines = pd.concat([first, second]).sort_values("order_id", kind="stable")
    path = _csv(lines, tmp_path / "orders.csv")
    outcome, out = _calibrate(tmp_path, path)
    assert outcome.code == 0, outcome.stderr
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    truth = _truth(HISTORY)
    n = HISTORY["customer_id"].nunique()
    assert _summary(data["calibration"]["data"]) == (n, len(HISTORY), len(truth) - n)
    assert data["calibration"]["data"]["transactions"] == len(truth)
    assert data["economics"]["order_value_mean"] == pytest.approx(truth.mean(), rel=0.02)
    merged = next(w for w in outcome.stdout.splitlines() if "same-day orders were merged" in w)
    assert f"{len(HISTORY) - len(truth)} same-day orders" in merged


def test_order_amount_total_refuses_an_order_whose_lines_differ(tmp_path):
    export = _filled_down(_shopify(HISTORY, np.full(len(HISTORY), "paid", dtype=object)))
    second = export.index[export["Name"] == "#1002"][1]
    export.loc[second, "Total"] = "1.00"
    path = tmp_path / "orders_export.csv"
    export.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"the lines of order '#1002' carry different amounts.*--order-amount lines"):
        read_orders(path, order_amount="total")


# -- Shopify's Cancelled at and Refunded Amount ---------------------------------------------------------------


def test_a_shopify_order_with_a_cancellation_date_is_left_out_though_paid(tmp_path):
    statuses = _statuses(len(HISTORY))
    export = _shopify(HISTORY, statuses)
    cancelled = np.flatnonzero((statuses == "paid") & (np.arange(len(HISTORY)) % 10 == 4))
    first_lines = export.index[~export["Name"].duplicated()]
    for k in cancelled:
        at = first_lines[export.loc[first_lines, "Name"] == f"#{1001 + k}"][0]
        export.loc[at, "Cancelled at"] = export.loc[at, "Created at"]
    path = tmp_path / "orders_export.csv"
    export.to_csv(path, index=False)
    bought = HISTORY[(statuses == "paid") | (statuses == "partially_refunded")]
    bought = bought.drop(HISTORY.index[cancelled])
    outcome, out = _calibrate(tmp_path, path)
    assert outcome.code == 0, outcome.stderr
    assert f"{len(cancelled)} orders with a cancellation date in column 'Cancelled at'" in outcome.stdout
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    truth = _truth(bought)
    n = bought["customer_id"].nunique()
    assert _summary(data["calibration"]["data"]) == (n, len(bought), len(truth) - n)
    assert data["economics"]["order_value_mean"] == pytest.approx(truth.mean(), rel=0.02)


def test_a_shopify_refunded_amount_lowers_its_partially_refunded_order(tmp_path):
    statuses = np.full(len(HISTORY), "paid", dtype=object)
    whole = np.arange(len(HISTORY)) % 31 == 3  # refunded in full, the status not yet changed
    part = (np.arange(len(HISTORY)) % 6 == 1) & ~whole
    statuses[part | whole] = "partially_refunded"
    export = _shopify(HISTORY, statuses)
    refunded = np.where(part, np.round(HISTORY["amount"] * 0.3, 2), np.where(whole, HISTORY["amount"], 0.0))
    first_lines = export.index[~export["Name"].duplicated()]
    k_of = 1001 - export.loc[first_lines, "Name"].str[1:].astype(int).to_numpy()  # -k
    export.loc[first_lines, "Refunded Amount"] = [f"{refunded[-k]:.2f}" for k in k_of]
    path = tmp_path / "orders_export.csv"
    export.to_csv(path, index=False)
    log = read_orders(path)
    netted = HISTORY.assign(amount=HISTORY["amount"] - refunded)[~whole]
    assert log.raw_orders == len(netted)
    assert np.isclose(log.transactions["amount"].sum(), netted["amount"].sum())
    assert np.isclose(log.transactions["amount"].mean(), _truth(netted).mean())
    assert log.transactions["customer_id"].nunique() == netted["customer_id"].nunique()
    note = next(w for w in log.warnings if "refunded amount in column 'Refunded Amount'" in w)
    assert (
        f"{int((part | whole).sum())} orders were lowered" in note
        and f"{int(whole.sum())} orders refunded in full" in note
    )

    export.loc[first_lines[3], "Refunded Amount"] = "99999999.00"
    export.to_csv(path, index=False)
    outcome, out = _calibrate(tmp_path, path)
    _refused(outcome, out, f"row {first_lines[3] + 2}", "column 'Refunded Amount'", "is more than its total")


# -- an export saved twice ----------------------------------------------------------------------------------


def test_a_shopify_export_saved_twice_gets_the_duplicate_message(tmp_path):
    statuses = _statuses(len(HISTORY))
    export = _shopify(HISTORY, statuses)
    twice = pd.concat([export, export], ignore_index=True)
    path = tmp_path / "orders_export.csv"
    twice.to_csv(path, index=False)
    outcome, out = _calibrate(tmp_path, path)
    message = _refused(
        outcome, out, "orders_export.csv", "repeat an earlier row in every cell", "--duplicate-orders drop"
    )
    assert f"rows 2 and {len(export) + 2}" in message
    bought = HISTORY[~np.isin(statuses, ["refunded", "voided"])]
    log = read_orders(path, duplicate_orders="drop")
    assert log.raw_orders == len(bought)
    assert log.transactions["customer_id"].nunique() == bought["customer_id"].nunique()
    assert len(log.transactions) == len(_truth(bought))
    assert np.isclose(log.transactions["amount"].mean(), _truth(bought).mean())
