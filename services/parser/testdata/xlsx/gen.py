"""Writes the workbooks in this folder the way other tools write them.

    python3 -m venv /tmp/venv
    /tmp/venv/bin/pip install openpyxl==3.1.5 xlsxwriter==3.3.1 msoffcrypto-tool==6.1.0 xlwt==1.3.0
    /tmp/venv/bin/python gen.py

The files are committed; run this only to make them again.
"""
import datetime

import msoffcrypto.format.ooxml
import openpyxl
import xlsxwriter
import xlwt

HEADER = ["id", "name", "amount", "day", "note"]
# Formulas as Python strings: both libraries store them without calculating.
ROWS = [
    [1, "Ana", 2.5, datetime.date(2024, 3, 1), "plain values"],
    [2, '="Bo"&"b"', 1, None, "formula in name"],
    [3, "Cy", "=1/4", None, "formula in amount"],
    [4, "Di", 3, None, "=A5&\" in an unmapped column\""],
    ["=2+3", "Ed", None, None, "formula in id"],
    # A template's formula filled down into a row without data yet.
    [None, None, '=IF(A7="","",A7*2)', None, None],
]


def with_openpyxl(name):
    # openpyxl stores <f> with an empty <v/>: no result.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(HEADER)
    for row in ROWS:
        ws.append(row)
    ws["D2"].number_format = "yyyy-mm-dd"
    wb.save(name)


def with_xlsxwriter(name):
    # XlsxWriter stores <f> with <v>0</v> and sets fullCalcOnLoad, unless
    # given the result.
    wb = xlsxwriter.Workbook(name, {"default_date_format": "yyyy-mm-dd"})
    ws = wb.add_worksheet("Data")
    ws.write_row(0, 0, HEADER)
    for i, row in enumerate(ROWS, start=1):
        ws.write_row(i, 0, row)
    i = len(ROWS) + 1
    ws.write_formula(i, 0, "=2*3", None, 6)
    ws.write_row(i, 1, ["Fay", None, None, "formula in id, with its result"])
    wb.close()


def encrypted(src, name):
    # A password-protected workbook is an OLE compound file holding the
    # encrypted zip, as Excel writes it.
    with open(src, "rb") as f, open(name, "wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(f).encrypt("secret", out)


def with_xlwt(name):
    # An Excel 97-2003 workbook: also an OLE compound file.
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Data")
    for i, h in enumerate(HEADER):
        ws.write(0, i, h)
    wb.save(name)


with_openpyxl("openpyxl_formulas.xlsx")
with_xlsxwriter("xlsxwriter_formulas.xlsx")
encrypted("openpyxl_formulas.xlsx", "encrypted.xlsx")
with_xlwt("excel97.xls")
