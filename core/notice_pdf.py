"""The layout of an official notice as a PDF: the agency's name, the title, the notice number, the
addressee, the body, an optional table, the remedies of an adverse decision, the case number, the
date and the seal area, and a QR with the check code that verifies the notice against the case.

Why fpdf2 with Noto Serif CJK: fpdf2 (2.8+) embeds OpenType fonts with CFF outlines, which is
what Debian's fonts-noto-cjk ships (``make fonts``), and subsets them through fontTools, so a
notice carries only the glyphs it prints (about 30-60 KB instead of the 25 MB collection). A
reader without Chinese fonts (a bank counter's PC) still shows it as printed.

Deterministic: the creation date is the issuing time, so the same request renders the same bytes
(and the same SHA-256) whichever worker renders it, however often."""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import segno
from fpdf import FPDF

FONT_FAMILIES = ("Noto Serif CJK SC", "Noto Sans CJK SC")
FONT = "notice"


class FontMissing(RuntimeError):
    """No CJK font to embed: the worker's machine lacks fonts-noto-cjk (``make fonts``) and
    ``UIFLOW_NOTICE_FONT`` names none."""


@dataclass(frozen=True)
class FontFile:
    path: Path
    index: int = 0


def parse_font_setting(value: str) -> FontFile:
    """``/path/font.ttc#2`` → the face 2 of the collection; a plain path → its first face."""
    path, _, index = value.partition("#")
    return FontFile(Path(path), int(index) if index else 0)


@functools.cache
def find_font(setting: str = "") -> FontFile:
    """The font to embed: the setting if given, else Noto Serif (or Sans) CJK SC through fontconfig."""
    if setting:
        f = parse_font_setting(setting)
        if not f.path.is_file():
            raise FontMissing(f"UIFLOW_NOTICE_FONT {f.path} is not a file")
        return f
    fc_list = shutil.which("fc-list")
    if fc_list:
        for family in FONT_FAMILIES:
            out = subprocess.run(
                [fc_list, "-f", "%{file}|%{index}\n", f":family={family}:style=Regular"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            ).stdout
            for line in out.splitlines():
                path, _, index = line.partition("|")
                if path and Path(path).is_file():
                    return FontFile(Path(path), int(index or 0))
    raise FontMissing("no Noto CJK font found: install fonts-noto-cjk (make fonts)")


@dataclass
class NoticeLayout:
    """Everything printed on one notice, already worded (the templates in activities/notices.py)."""

    agency: str
    title: str
    notice_no: str
    addressee: str
    paragraphs: list[str]
    case_id: str
    issued_at: datetime  # printed as the local date
    date_zh: str
    check_code: str
    verify_url: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    remedies: str = ""
    closing: str = ""


def _qr(pdf: FPDF, data: str, x: float, y: float, size: float) -> None:
    """The QR as vector squares (no image library, sharp when printed)."""
    qr = segno.make(data, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix]
    n = len(matrix)
    cell = size / (n + 2)  # one quiet module each side
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, size, size, style="F")
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(x + (c + 1) * cell, y + (r + 1) * cell, cell, cell, style="F")


def _paragraph(pdf: FPDF, text: str, height: float = 8) -> None:
    """A paragraph whose first line is indented by two characters (Chinese official style).
    ``write`` flows from the current x and wraps to the margin, so the indent never becomes a
    line of its own as leading ideographic spaces would in ``multi_cell``."""
    pdf.set_x(pdf.l_margin + 2 * pdf.font_size)
    pdf.write(height, text)
    pdf.ln(height)


def render(layout: NoticeLayout, font: FontFile) -> bytes:
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creation_date(layout.issued_at)
    pdf.set_title(layout.title)
    pdf.set_author(layout.agency)
    pdf.set_creator("uiflow")
    pdf.set_margins(22, 20, 22)
    pdf.set_auto_page_break(auto=True, margin=70)
    pdf.add_font(FONT, "", str(font.path), collection_font_number=font.index)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    pdf.set_font(FONT, size=13)
    pdf.cell(width, 8, layout.agency, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=20)
    pdf.cell(width, 14, layout.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10.5)
    pdf.cell(width, 7, f"文书编号：{layout.notice_no}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    pdf.set_font(FONT, size=12.5)
    pdf.multi_cell(width, 8, layout.addressee, new_x="LMARGIN", new_y="NEXT")
    for p in layout.paragraphs:
        _paragraph(pdf, p)
    if layout.rows:
        pdf.ln(2)
        pdf.set_font(FONT, size=11)
        label_w = width * 0.42
        for label, value in layout.rows:
            pdf.cell(label_w, 7.5, label, border=1, align="C")
            pdf.cell(width - label_w, 7.5, value, border=1, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font(FONT, size=12.5)
    if layout.remedies:
        _paragraph(pdf, layout.remedies)
    if layout.closing:
        _paragraph(pdf, layout.closing)

    # The foot: issuing agency, date and seal area on the right; QR and check code on the left.
    if pdf.get_y() > pdf.h - 75:
        pdf.add_page()
    pdf.set_auto_page_break(auto=False)
    top = pdf.h - 72
    seal_d = 38.0
    seal_x = pdf.w - pdf.r_margin - seal_d - 6
    pdf.set_draw_color(200, 30, 30)
    pdf.set_dash_pattern(dash=1.2, gap=1.2)
    pdf.ellipse(seal_x, top, seal_d, seal_d)
    pdf.set_dash_pattern()
    pdf.set_draw_color(0, 0, 0)
    pdf.set_text_color(200, 30, 30)
    pdf.set_font(FONT, size=9)
    pdf.set_xy(seal_x, top + seal_d - 9)
    pdf.cell(seal_d, 6, "（盖章）", align="C")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FONT, size=12)
    right_w = 80.0
    pdf.set_xy(pdf.w - pdf.r_margin - right_w, top + 12)
    pdf.cell(right_w, 8, layout.agency, align="R", new_x="LEFT", new_y="NEXT")
    pdf.cell(right_w, 8, layout.date_zh, align="R")

    qr_size = 30.0
    _qr(pdf, layout.verify_url, pdf.l_margin, top, qr_size)
    pdf.set_font(FONT, size=9.5)
    pdf.set_xy(pdf.l_margin, top + qr_size + 1)
    pdf.cell(90, 5, f"核验码：{layout.check_code}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(90, 5, f"案件编号：{layout.case_id}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=8)
    pdf.multi_cell(
        width,
        4.5,
        f"扫描二维码或登录{layout.verify_url.rsplit('/', 1)[0]}输入核验码，"
        "可查验本文书是否由本机构出具及其内容是否被改动。",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
