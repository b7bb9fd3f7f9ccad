"""The period's reports for the approval and finance departments (art. 9, 15), under
``<data dir>/reports/<period>/``: ``scorecards.csv``, ``verdicts.csv``, ``violations.csv``,
``evaluation.json`` (everything), ``report.md`` (tables through tabulate) and ``report.html`` (a Jinja
template, ``templates/report.html.j2``, with inline SVG charts that need nothing to display: the trend of
each unit's pass rate over the periods in the check history, and this period's indicators per unit)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from tabulate import tabulate

from pipelines.clock import province_day, shown_time
from pipelines.evaluation.scorecard import DIMENSIONS, Scorecard
from pipelines.evaluation.service import Evaluation, violation_dict
from pipelines.outputs import safe_record

# Twenty colours (the tab20 pairs) so that a province's units rarely share one in the legend.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ff9896", "#98df8a", "#ffbb78", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5")
SCORECARD_COLUMNS = ("unit", "unit_name", "period", "items", "catalogue_coverage", "directory_registration",
                     "expected_submissions", "on_time_submissions", "on_time_rate", "checks", "checks_failed",
                     "pass_rate", *(f"pass_rate_{d}" for d in DIMENSIONS), "rows_received", "rows_held_back",
                     "held_back_rate", "corrections_released", "correction_turnaround_hours", "applications_due",
                     "applications_in_time", "sharing_answered_in_time", "shared_items", "shared_items_used",
                     "shared_data_used", "violations_open", "violations_overdue")


def md(text: str) -> str:
    """A table cell: reasons and details come from refused files and may hold a pipe or a newline."""
    return text.replace("|", "\\|").replace("\n", " ")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def scorecard_row(s: Scorecard) -> dict[str, Any]:
    row = s.as_dict()
    row.update({f"pass_rate_{d}": s.pass_rates.get(d) for d in DIMENSIONS})
    return {c: row[c] for c in SCORECARD_COLUMNS}


# --- markdown ------------------------------------------------------------------------------------------
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> str:
    """A pipe table through tabulate; every cell is already text (no number parsing: "50.00%" stays)."""
    return tabulate([[md(cell) for cell in row] for row in rows], headers=list(headers), tablefmt="pipe",
                    colalign=list(align), disable_numparse=True)


def scorecards_markdown(cards: Sequence[Scorecard]) -> str:
    if not cards:
        return "no units with catalogued items"
    headers = ["unit", "coverage", "registration", "on time", "pass rate", *DIMENSIONS, "held back",
               "correction (h)", "applications in time", "shared data used", "violations open / overdue"]
    rows = [[f"{s.unit_name} (`{s.unit}`)", percent(s.catalogue_coverage), percent(s.directory_registration),
             f"{percent(s.on_time_rate)} ({s.on_time_submissions}/{s.expected_submissions})", percent(s.pass_rate),
             *(percent(s.pass_rates.get(d)) for d in DIMENSIONS), percent(s.held_back_rate),
             "—" if s.correction_turnaround_hours is None else f"{s.correction_turnaround_hours:.1f}",
             percent(s.sharing_answered_in_time),
             f"{percent(s.shared_data_used)} ({s.shared_items_used}/{s.shared_items})",
             f"{s.violations_open} / {s.violations_overdue}"] for s in cards]
    return markdown_table(headers, rows, ["left"] + ["right"] * (len(headers) - 1))


def verdicts_markdown(evaluation: Evaluation) -> str:
    if not evaluation.verdicts:
        return "no units judged"
    rows = [[f"{v.unit_name} (`{v.unit}`)", f"**{v.verdict.upper()}**", "; ".join(v.reasons) or "—",
             ", ".join(v.not_judged) or "—"] for v in evaluation.verdicts]
    return markdown_table(["unit", "verdict", "reasons", "not judged (no data)"], rows, ["left"] * 4)


def contractors_markdown(evaluation: Evaluation) -> str:
    if not evaluation.contractors:
        return "no technical service units entrusted in this period"
    rows = [[f"`{c.contractor}`", ", ".join(c.units) or "—", str(c.runs), percent(c.run_success_rate), str(c.failed),
             str(c.refused), percent(c.timeliness), percent(c.quality)] for c in evaluation.contractors]
    return markdown_table(["contractor", "units", "runs", "success rate", "failed", "refused", "timeliness",
                           "quality"], rows, ["left", "left"] + ["right"] * 6)


def open_violations(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Violations not yet rectified, the overdue (escalated) ones first, then by deadline; ``opened`` and ``due``
    are the province's days, what the tables show."""
    shown = [{**violation_dict(v, evaluation.generated_at), "opened": province_day(v.opened_at).isoformat(),
              "due": province_day(v.deadline).isoformat()}
             for v in evaluation.violations if v.status not in ("rectified", "dismissed")]
    return sorted(shown, key=lambda v: (v["status"] != "overdue", v["deadline"]))


def publication_line(evaluation: Evaluation) -> str:
    """Whether these verdicts stand: provisional while the period runs, else published (and re-issued)."""
    published = evaluation.publication
    if published is None:
        return "Provisional: the period has not ended, these verdicts are not published and may still change."
    first, current = published.revisions[0], published.current
    line = f"Published {shown_time(first.published_at)}; these verdicts do not change when evaluated again."
    if current.revision > 1:
        line += f" Re-issued {shown_time(current.published_at)} (revision {current.revision}): {current.reason}."
    return line


def revisions_rows(evaluation: Evaluation) -> list[list[str]]:
    published = evaluation.publication
    return [[str(r.revision), shown_time(r.published_at), r.reason or "first publication",
             "; ".join(r.changes) or "—"] for r in (published.revisions if published else ())]


def revisions_markdown(evaluation: Evaluation) -> str:
    rows = revisions_rows(evaluation)
    if not rows:
        return "not published: the period has not ended"
    return markdown_table(["revision", "published", "reason", "verdicts changed"], rows, ["right"] + ["left"] * 3)


def headline(evaluation: Evaluation) -> str:
    failed = sum(1 for v in evaluation.verdicts if v.verdict == "fail")
    overdue = sum(1 for v in evaluation.violations if v.status == "overdue")
    return (f"{len(evaluation.verdicts)} unit(s) judged, {failed} failed; {overdue} violation(s) overdue and "
            "escalated.")


def dismissed_markdown(evaluation: Evaluation) -> str:
    shown = [v for v in evaluation.violations if v.status == "dismissed"]
    if not shown:
        return "no violations dismissed"
    rows = [[v.kind, f"`{v.unit}`", v.item, f"`{v.subject}`", province_day(v.closed_at).isoformat() if v.closed_at
             else "", v.closed_by or ""] for v in shown]
    return markdown_table(["kind", "unit", "item", "submission", "dismissed", "by whom and why"], rows, ["left"] * 6)


def violations_markdown(evaluation: Evaluation) -> str:
    shown = open_violations(evaluation)
    if not shown:
        return "no open violations"
    rows = [["**OVERDUE**" if v["status"] == "overdue" else v["status"], v["kind"], f"`{v['unit']}`", v["item"],
             f"`{v['subject']}`", v["opened"], v["due"], str(v["days_overdue"]), v["detail"] or ""] for v in shown]
    return markdown_table(["status", "kind", "unit", "item", "submission", "opened", "deadline", "days overdue",
                           "detail"], rows, ["left"] * 7 + ["right", "left"])


def report_markdown(evaluation: Evaluation) -> str:
    p = evaluation.period
    return "\n\n".join([
        f"# Supervision and evaluation report {p.label} ({p.start.isoformat()} to {p.last_day.isoformat()})",
        f"Generated {shown_time(evaluation.generated_at)}. {headline(evaluation)}",
        publication_line(evaluation),
        "## Compliance verdicts", verdicts_markdown(evaluation),
        "## Publication and re-issues", revisions_markdown(evaluation),
        "## Escalated and open violations", violations_markdown(evaluation),
        "## Violations dismissed by the management institution", dismissed_markdown(evaluation),
        "## Unit scorecards", scorecards_markdown(evaluation.scorecards),
        "## Technical service units (contractors)", contractors_markdown(evaluation),
    ]) + "\n"


# --- SVG charts ----------------------------------------------------------------------------------------
def svg_trend(labels: Sequence[str], series: dict[str, list[float | None]], width: int = 720,
              height: int = 300) -> str:
    """A line per unit: pass rate (0-100 %) per period; a period without checks leaves a gap."""
    left, right, top, bottom = 48, 180, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return left + (i * step if len(labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - v)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="pass rate per unit and period">']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + plot_w}" y2="{y(tick):.1f}" '
                     f'stroke="#ddd"/><text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{tick:.0%}</text>')
    for i, label in enumerate(labels):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(label)}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        for segment in _segments(values):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in segment)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
            parts += [f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"><title>{escape(name)} '
                      f'{escape(labels[i])}: {v:.2%}</title></circle>' for i, v in segment]
        legend_y = top + 14 * n + 8
        parts.append(f'<rect x="{left + plot_w + 12}" y="{legend_y - 8}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{left + plot_w + 26}" y="{legend_y + 1}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _segments(values: list[float | None]) -> list[list[tuple[int, float]]]:
    segments: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            segments.append([])
        else:
            segments[-1].append((i, v))
    return [s for s in segments if s]


def svg_bars(values: dict[str, float | None], threshold: float | None = None, width: int = 720) -> str:
    """Horizontal bars (0-100 %) per unit, with the threshold as a dashed line."""
    label_w, bar_h, gap = 160, 16, 6
    plot_w = width - label_w - 60
    height = (bar_h + gap) * len(values) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for n, (name, v) in enumerate(values.items()):
        top = n * (bar_h + gap) + 4
        parts.append(f'<text x="{label_w - 6}" y="{top + 12}" font-size="11" text-anchor="end">{escape(name)}</text>')
        if v is not None:
            parts.append(f'<rect x="{label_w}" y="{top}" width="{plot_w * v:.1f}" height="{bar_h}" fill="#1f77b4"/>')
        parts.append(f'<text x="{label_w + plot_w * (v or 0) + 4:.1f}" y="{top + 12}" font-size="11">'
                     f'{percent(v)}</text>')
    if threshold is not None:
        parts.append(f'<line x1="{label_w + plot_w * threshold:.1f}" y1="0" x2="{label_w + plot_w * threshold:.1f}" '
                     f'y2="{height}" stroke="#d62728" stroke-dasharray="4 3"/>')
    parts.append("</svg>")
    return "".join(parts)


# --- HTML ----------------------------------------------------------------------------------------------
VIOLATION_COLUMNS = ("status", "kind", "unit", "item", "subject", "opened", "due", "days_overdue", "detail")
VIOLATION_HEADERS = ("status", "kind", "unit", "item", "submission", "opened", "deadline", "days overdue", "detail")
CONTRACTOR_HEADERS = ("contractor", "units", "runs", "success rate", "failed", "refused", "timeliness", "quality",
                      "incidents")


@cache
def _templates() -> Environment:
    """Loaded on first use, not at import; autoescape: names and reasons come from catalogues and files."""
    return Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
                       keep_trailing_newline=True)


def report_html(evaluation: Evaluation, pass_threshold: float | None = None) -> str:
    p = evaluation.period
    shown = open_violations(evaluation)
    return _templates().get_template("report.html.j2").render(
        period=p, generated=shown_time(evaluation.generated_at), headline=headline(evaluation),
        publication=publication_line(evaluation), revisions=revisions_rows(evaluation),
        verdicts=evaluation.verdicts,
        violation_headers=VIOLATION_HEADERS, violation_classes=[v["status"] for v in shown],
        dismissed=[[v.kind, v.unit, v.item, v.subject, v.closed_by or ""] for v in evaluation.violations
                   if v.status == "dismissed"],
        violations=[[str(v[k]) for k in VIOLATION_COLUMNS] for v in shown],
        # keyed by unit code: the legend stays narrow, the tables carry the names
        trend_chart=Markup(svg_trend(evaluation.trend_periods, evaluation.trend)),
        on_time_chart=Markup(svg_bars({s.unit: s.on_time_rate for s in evaluation.scorecards})),
        pass_rate_chart=Markup(svg_bars({s.unit: s.pass_rate for s in evaluation.scorecards}, pass_threshold)),
        scorecard_columns=SCORECARD_COLUMNS,
        scorecards=[[_cell(value) for value in scorecard_row(s).values()] for s in evaluation.scorecards],
        contractor_headers=CONTRACTOR_HEADERS,
        contractors=[[c.contractor, ", ".join(c.units), c.runs, percent(c.run_success_rate), c.failed, c.refused,
                      percent(c.timeliness), percent(c.quality),
                      "; ".join(f"{i.unit} {i.status}: {i.reason or ''}" for i in c.incidents) or "—"]
                     for c in evaluation.contractors],
    )


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


# --- files ---------------------------------------------------------------------------------------------
def write_reports(evaluation: Evaluation, directory: Path, pass_threshold: float | None = None) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in ("scorecards.csv", "verdicts.csv", "violations.csv",
                                                 "evaluation.json", "report.md", "report.html")}
    _write_csv(paths["scorecards.csv"], SCORECARD_COLUMNS, [scorecard_row(s) for s in evaluation.scorecards])
    _write_csv(paths["verdicts.csv"], ("unit", "unit_name", "period", "verdict", "reasons", "not_judged"),
               [{**v.as_dict(), "reasons": "; ".join(v.reasons), "not_judged": "; ".join(v.not_judged)}
                for v in evaluation.verdicts])
    violations = [violation_dict(v, evaluation.generated_at) for v in evaluation.violations]
    _write_csv(paths["violations.csv"], ("kind", "unit", "item", "subject", "detail", "opened_at", "deadline",
                                         "status", "closed_at", "closed_by", "days_overdue"), violations)
    paths["evaluation.json"].write_text(json.dumps(evaluation.as_dict(), ensure_ascii=False, indent=2, default=str),
                                        encoding="utf-8")
    paths["report.md"].write_text(report_markdown(evaluation), encoding="utf-8")
    paths["report.html"].write_text(report_html(evaluation, pass_threshold), encoding="utf-8")
    return paths


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    # utf-8-sig: the approval departments open these in Excel, which needs the BOM to read Chinese names.
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(safe_record(row) for row in rows)  # unit names, details, file names: typed by people


def render_text(evaluation: Evaluation, paths: dict[str, Path] | None = None) -> str:
    """What ``python -m pipelines evaluate`` prints."""
    p = evaluation.period
    lines = [f"period {p.label} ({p.start.isoformat()} to {p.last_day.isoformat()}): {evaluation.status}",
             publication_line(evaluation),
             *(f"revision {r[0]} {r[1]}: {r[2]}; verdicts changed: {r[3]}" for r in revisions_rows(evaluation)[1:]),
             f"{'unit':<16} {'verdict':<7} {'coverage':>8} {'register':>8} {'on time':>8} {'pass':>8} "
             f"{'held':>8} {'open':>4} {'overdue':>7}  reasons"]
    cards = {s.unit: s for s in evaluation.scorecards}
    for v in evaluation.verdicts:
        s = cards[v.unit]
        lines.append(f"{v.unit:<16} {v.verdict.upper():<7} {percent(s.catalogue_coverage):>8} "
                     f"{percent(s.directory_registration):>8} {percent(s.on_time_rate):>8} {percent(s.pass_rate):>8} "
                     f"{percent(s.held_back_rate):>8} {s.violations_open:>4} {s.violations_overdue:>7}  "
                     + ("; ".join(v.reasons) or "-"))
    for c in evaluation.contractors:
        lines.append(f"contractor {c.contractor}: {c.runs} run(s), success {percent(c.run_success_rate)}, "
                     f"{len(c.incidents)} incident(s), timeliness {percent(c.timeliness)}, "
                     f"quality {percent(c.quality)}")
    overdue = [v for v in evaluation.violations if v.status == "overdue"]
    lines += [f"ESCALATED {v.kind} {v.unit}/{v.subject}: {v.days_overdue(evaluation.generated_at)} day(s) past "
              f"{province_day(v.deadline).isoformat()}" for v in overdue]
    lines += [f"DISMISSED {v.kind} {v.unit}/{v.subject}: {v.closed_by}" for v in evaluation.violations
              if v.status == "dismissed"]
    if paths:
        lines.append(f"reports: {paths['report.html'].parent}")
    return "\n".join(lines)
