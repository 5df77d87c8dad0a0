"""The console's charts (the dashboard's grants per hour, the usage reports), drawn as SVG on the server with pygal."""

from __future__ import annotations

from datetime import datetime

import pygal
from pygal.style import Style

from calkeeper.contract.views import ReportView
from calkeeper.core.cals import CalType

STYLE = Style(
    background="transparent", plot_background="transparent", foreground="#1f2933", foreground_strong="#1f2933",
    foreground_subtle="#9aa5b1", colors=("#1d4ed8", "#0f766e", "#b45309", "#9333ea"),
    font_family="system-ui, sans-serif", label_font_size=11, major_label_font_size=11, legend_font_size=12,
)


# The dashboard chart's renditions: (width, height, hours between the labels of the time axis). The page shows
# each at exactly this size, never scaled, so its text stays at the style's size; the page's stylesheet
# (console.css, .chart img.grants) picks one by the screen's width.
GRANTS_SIZES = {"wide": (900, 300, 4), "medium": (480, 260, 6), "narrow": (300, 240, 6)}


def grants_chart(history: dict[str, list[tuple[datetime, int]]], *, size: str = "wide") -> str:
    """An SVG line chart of grants per hour for each CAL type, in one of the GRANTS_SIZES."""
    width, height, step = GRANTS_SIZES.get(size, GRANTS_SIZES["wide"])
    chart = pygal.Line(
        style=STYLE, width=width, height=height, show_dots=False, fill=False, x_label_rotation=0,
        show_minor_x_labels=False, legend_at_bottom=True, legend_at_bottom_columns=2 if width < 600 else 4,
        include_x_axis=True, disable_xml_declaration=True, explicit_size=False, title=None,
        y_title="grants per hour" if width >= 600 else None,  # narrower, the card's heading says it alone
        truncate_legend=-1, truncate_label=-1,
        js=[],  # pygal would load its tooltip script from a third-party site into the console
    )
    first = next(iter(history.values()), [])
    chart.x_labels = [f"{hour:%H:00}" for hour, _ in first]
    chart.x_labels_major = [f"{hour:%H:00}" for index, (hour, _) in enumerate(first) if index % step == 0]
    for cal_type in CalType:
        chart.add(cal_type.label, [count for _, count in history.get(cal_type.value, [])])
    svg: str = chart.render(is_unicode=True)
    return svg


# The usage reports' renditions: (width, height, labels along the day axis, characters of a bar's label, most ticks
# along the bars' value axis, whose labels sit side by side and would overlap in a narrow one). The report's
# chart sits in half of the page beside its table (one column on a phone), so the renditions are narrower than the
# dashboard's; console.css (.chart img.report) picks one by the screen's width and shows it unscaled.
REPORT_SIZES = {"wide": (900, 300, 10, 40, 16), "medium": (440, 280, 4, 24, 8), "narrow": (300, 260, 3, 14, 5)}


def report_chart(view: ReportView, *, size: str = "wide") -> str:
    """An SVG chart of a usage report, in one of the REPORT_SIZES: a line per CAL type (or reason) over its days,
    or bars per user, document or reason. An empty history draws empty axes with a note, still readable."""
    width, height, labels, label_chars, ticks = REPORT_SIZES.get(size, REPORT_SIZES["wide"])
    options = {"style": STYLE, "width": width, "height": height, "show_legend": True, "legend_at_bottom": True,
               "legend_at_bottom_columns": 2 if width < 600 else None, "disable_xml_declaration": True,
               "explicit_size": False, "js": [], "truncate_legend": -1, "truncate_label": label_chars,
               "no_data_text": "nothing recorded in this period", "include_x_axis": True}
    columns = view.columns
    if columns[0] == "day":
        chart = pygal.Line(show_dots=False, x_label_rotation=0, show_minor_x_labels=False, **options)
        days = sorted({str(row[0]) for row in view.rows}) or [view.start.isoformat(), view.end.isoformat()]
        step = max(1, -(-len(days) // labels))  # at most ``labels`` dates along the axis
        chart.x_labels = days
        chart.x_labels_major = days[::step]
        if len(columns) == 2:  # day, count
            chart.add(columns[1], [row[1] for row in view.rows])
        else:
            value = 2  # grants, denials or the peak in use
            series: dict[str, dict[str, int]] = {}
            for row in view.rows:
                series.setdefault(str(row[1]), {})[str(row[0])] = row[value] or 0
            for name, points in series.items():
                chart.add(_label(name), [points.get(day, 0) for day in days])
        if width >= 600:  # narrower, the card's heading names the report alone
            chart.y_title = columns[2] if len(columns) > 2 else columns[1]
    else:
        chart = pygal.HorizontalBar(max_scale=ticks, **options)
        top = view.rows[:20]
        chart.x_labels = [str(row[0]) for row in top]
        chart.add(columns[1], [row[1] for row in top])
    svg: str = chart.render(is_unicode=True)
    return svg


def _label(name: str) -> str:
    try:
        return CalType(name).label
    except ValueError:
        return name
