"""Writes the PDF fixtures of the parser's tests, as two common PDF writers
do: ReportLab (standard Type 1 fonts, WinAnsi encoding) and fpdf2 (an
embedded TrueType subset, Identity-H with a ToUnicode map, as office suites
write). Run from this folder with reportlab and fpdf2 installed:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install reportlab fpdf2
    /tmp/v/bin/python make.py
"""
import datetime, io, struct, zlib
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet, ParagraphStyle
from reportlab.platypus import SimpleDocTemplate, Paragraph, Spacer, Table, PageBreak, ListFlowable, ListItem
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas
from fpdf import FPDF

ss = getSampleStyleSheet()


def status_report(path, encrypt=None):
    doc = SimpleDocTemplate(path, pagesize=A4, encrypt=encrypt, invariant=1)
    doc.build([
        Paragraph("Quarterly status report", ss["Title"]),
        Paragraph("Renée Dupré manages PRJ-1042. The estimate follows AACE-101 and ISO 21500 applies to the "
                  "whole portfolio, which the steering committee of the delivery organisation reviews every quarter.",
                  ss["Normal"]),
        Spacer(1, 12),
        Paragraph("Jörg Müller is the project manager for PRJ-2001.", ss["Normal"]),
        Table([["Project", "Manager", "Status"], ["PRJ-1042", "Renée Dupré", "green"], ["PRJ-2001", "Jörg Müller", "amber"]]),
        PageBreak(),
        Paragraph("Second page: Alice Smith leads PRJ-3003.", ss["Normal"]),
    ])


status_report("../extract/status-report.pdf")
status_report("encrypted.pdf", encrypt=pdfencrypt.StandardEncryption("secret", canPrint=1))

p = FPDF()
p.set_creation_date(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
p.add_font("DejaVu", "", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
p.add_font("DejaVu", "B", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
p.add_page()
p.set_font("DejaVu", size=11)
p.multi_cell(0, 6, "Minutes of the review\n\nRenée Dupré manages PRJ-1042. The estimate follows AACE-101 and "
             "ISO 21500 applies to the whole portfolio, which the steering committee of the delivery organisation "
             "reviews every quarter.\n\nJörg Müller is the project manager for PRJ-2001. Zoë Ångström leads PRJ-3003.",
             align="J")
with p.table() as t:
    for row in [["Project", "Manager"], ["PRJ-1042", "Renée Dupré"], ["PRJ-2001", "Jörg Müller"]]:
        r = t.row()
        for c in row:
            r.cell(c)
p.output("../extract/minutes.pdf")

# A scan: one page with an image and no text.
c = canvas.Canvas("scan.pdf", pagesize=(200, 200), invariant=1)
from reportlab.lib.utils import ImageReader
def png(w, h):
    raw = b"".join(b"\x00" + bytes([128]) * w for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
c.drawImage(ImageReader(io.BytesIO(png(16, 16))), 10, 10, 100, 100)
c.showPage()
c.save()

# For BenchmarkExtractPDF: three pages of some 4 KB of text each.
p = FPDF()
p.set_creation_date(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
p.add_font("DejaVu", "", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
p.set_font("DejaVu", size=10)
for page in range(3):
    p.add_page()
    p.multi_cell(0, 5, f"Report 0 page {page}. Nora Bishop manages PRJ-4355. The estimate follows AACE-101 "
                 "and ISO 21500 applies. " * 40, align="J")
p.output("three-pages.pdf")

# For TestExtractPDFParagraphs: a heading without a full stop, two
# paragraphs apart by paragraph spacing (half a line), a bulleted list and
# a small table, as a word processor lays them out.
body = ParagraphStyle("body", parent=ss["Normal"], spaceAfter=6)
doc = SimpleDocTemplate("paragraphs.pdf", pagesize=A4, invariant=1)
doc.build([
    Paragraph("Project PRJ-1042", ss["Heading2"]),
    Paragraph("Ada Quinlan leads the review of PRJ-2001 for the steering committee, which meets every second month "
              "to decide on the budget, the schedule and the staffing of the delivery organisation.", body),
    Paragraph("The review found that the estimate follows AACE-101 and that ISO 21500 applies to the whole "
              "portfolio; the committee accepted both findings at its last meeting.", body),
    ListFlowable([ListItem(Paragraph(t, ss["Normal"])) for t in [
        "Nora Bishop owns the schedule",
        "Omar Haddad owns the budget and reports on it to the steering committee at each of its meetings, "
        "with the forecast for the rest of the year",
        "Zoe Park owns the staffing plan",
    ]], bulletType="bullet", start="\u2022"),
    Spacer(1, 6),
    Table([["Project", "Manager", "Status"], ["PRJ-1042", "Ada Quinlan", "green"], ["PRJ-2001", "Omar Haddad", "amber"]]),
])


def filled_form(path):
    """For TestExtractPDFFilledForm: a form filled in as Acrobat saves it,
    the field's value drawn by its widget's appearance stream, not by the
    page's content; a second widget is hidden (annotation flag 2)."""
    def widget(name, value, y, flags):
        return (b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (" + name + b") /V (" + value + b") /F " + flags +
                b" /Rect [150 " + y + b" 300 " + str(int(y) + 20).encode() + b"] /P 3 0 R /DA (/Helv 12 Tf 0 g)"
                b" /AP << /N " + (b"7" if name == b"manager" else b"8") + b" 0 R >> >>")
    def appearance(value):
        s = b"/Tx BMC BT /Helv 12 Tf 2 6 Td (" + value + b") Tj ET EMC"
        return (b"<< /Type /XObject /Subtype /Form /BBox [0 0 150 20] /Resources << /Font << /Helv 6 0 R >> >>"
                b" /Length " + str(len(s)).encode() + b" >>\nstream\n" + s + b"\nendstream")
    content = b"BT /F1 12 Tf 30 150 Td (Project manager:) Tj 0 -40 Td (Deputy:) Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 9 0 R] /DR << /Font << /Helv 6 0 R >> >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 320 200] /Contents 4 0 R"
        b" /Resources << /Font << /F1 6 0 R >> >> /Annots [5 0 R 9 0 R] >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        widget(b"manager", b"Lina Farrell", b"145", b"4"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        appearance(b"Lina Farrell"),
        appearance(b"Paul Saito"),
        widget(b"deputy", b"Paul Saito", b"105", b"2"),
    ]
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += str(i).encode() + b" 0 obj\n" + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 " + str(len(objs) + 1).encode() + b"\n0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size " + str(len(objs) + 1).encode() + b" /Root 1 0 R >>\nstartxref\n" + str(xref).encode() + b"\n%%EOF\n"
    with open(path, "wb") as f:
        f.write(out)


filled_form("form.pdf")
