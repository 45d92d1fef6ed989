"""CSV and XLSX exports: Excel-friendly encoding, formulas neutralised, mobiles masked."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from core.analytics.exports import ExportTable, safe_text, to_csv, to_xlsx

TABLE = ExportTable(
    title="回访结果: 顾问/门店",
    headers=["销售顾问", "Calls", "Reach rate", "Satisfaction"],
    rows=[
        ['=HYPERLINK("http://x")', 12, 0.5, 4.25],
        ["+86 call 13800138000 now", 3, None, None],
        ["-1", 0, 0.0, 3.0],
        ["@SUM(A1)", 7, 1.0, 5.0],
        ["\tTab", 1, 0.125, 2.0],
        ["王磊 (14912345678)", 2, 0.333, 1.5],
        ["合计", 25, 0.4, 3.5],
    ],
    kinds=["text", "int", "pct", "decimal"],
)


def test_safe_text_neutralises_formulas_and_masks_mobiles():
    assert safe_text("=1+1") == "'=1+1"
    assert safe_text("+1") == "'+1"
    assert safe_text("-1") == "'-1"
    assert safe_text("@x") == "'@x"
    assert safe_text("\tx") == "'\tx"
    assert safe_text("\rx") == "'\rx"
    assert safe_text("王 13800138000") == "王 138****8000"
    # not a mobile: 12 digits, or starting 12
    assert safe_text("138001380001") == "138001380001"
    assert safe_text("12800138000") == "12800138000"
    assert safe_text("大众") == "大众"


def test_csv_is_utf8_with_bom_and_safe_cells():
    data = to_csv(TABLE)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["销售顾问", "Calls", "Reach rate", "Satisfaction"]
    assert rows[1] == ['\'=HYPERLINK("http://x")', "12", "50.0%", "4.2"]
    assert rows[2] == ["'+86 call 138****8000 now", "3", "", ""]
    assert rows[3] == ["'-1", "0", "0.0%", "3.0"]
    assert rows[4][0] == "'@SUM(A1)"
    assert rows[5][0] == "'\tTab"
    assert rows[6] == ["王磊 (149****5678)", "2", "33.3%", "1.5"]
    assert rows[7] == ["合计", "25", "40.0%", "3.5"]
    assert b"13800138000" not in data and b"14912345678" not in data


def test_xlsx_keeps_numbers_formats_shares_and_neutralises_text():
    book = load_workbook(io.BytesIO(to_xlsx(TABLE)))
    sheet = book.active
    assert sheet.title == "回访结果  顾问 门店"  # ':' and '/' are not allowed in a sheet name
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["销售顾问", "Calls", "Reach rate", "Satisfaction"]
    assert all(c.font.bold for c in sheet[1])
    assert values[1] == ['\'=HYPERLINK("http://x")', 12, 0.5, 4.25]
    assert sheet["A2"].data_type == "s"  # text, not a formula
    assert values[2] == ["'+86 call 138****8000 now", 3, None, None]
    assert values[6] == ["王磊 (149****5678)", 2, 0.333, 1.5]
    assert sheet["C2"].number_format == "0.0%" and sheet["D2"].number_format == "0.0"
    assert sheet.freeze_panes == "A2"
    # Chinese counts double: the first column is wide enough for "王磊 (149****5678)"
    assert sheet.column_dimensions["A"].width >= 19
    assert sheet.column_dimensions["B"].width < sheet.column_dimensions["A"].width


def test_an_empty_table_still_has_its_header_row():
    empty = ExportTable("空", ["品牌", "数量"], [], ["text", "int"])
    assert to_csv(empty).decode("utf-8-sig").splitlines() == ["品牌,数量"]
    sheet = load_workbook(io.BytesIO(to_xlsx(empty))).active
    assert [c.value for c in sheet[1]] == ["品牌", "数量"] and sheet.max_row == 1
