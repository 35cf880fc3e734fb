"""The soak's section of ``report.html``: resource trends with fault windows, leak verdicts and
the periodic checks. Written as a fragment into the run's ``sections/`` folder, which the
report renderer includes (so ``harness report DIR`` keeps it)."""

from __future__ import annotations

from html import escape
from typing import Any

from harness.report.charts import Series, line_chart
from harness.report.html import windows_of
from harness.report.model import FaultWindow

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777",
           "#4b5563", "#65a30d", "#7c3aed")
CHARTS: tuple[tuple[str, str, str], ...] = (
    ("rss_mb", "Memory (RSS incl. children)", "MiB"),
    ("fds", "Open file descriptors", "fds"),
    ("pg_conns", "Postgres connections per database", "conns"),
    ("redis_clients", "Redis connected clients", "clients"),
    ("backlog", "Backlog (unfinished work)", "items"),
)




def section_html(soak: dict[str, Any], series: dict[str, dict[tuple[str, str], list[
        tuple[float, float]]]], faults: dict[str, list[FaultWindow]], duration_s: float
                 ) -> str:
    """The fragment (first line: its title comment)."""
    out = ["<!-- title: Soak: resource trends and periodic checks -->",
           f'<p class="doc">Verdict <b id="soak-verdict">{escape(soak["verdict"])}</b>. '
           f"Samples every {soak['sample_every_s']:g}s, invariant checks every "
           f"{soak['check_every_s']:g}s during the load. A series fails when it grows after "
           "warm-up (Theil-Sen slope over the limit and a steady rise); short soaks are "
           "<i>insufficient</i>, never failed; PostgreSQL's memory and open files, which grow "
           "with its caches, are <i>not judged</i> (its connections are).</p>"]
    for reason in soak["reasons"]:
        out.append(f'<p class="bad">&#10007; {escape(reason)}</p>')
    for strategy, entry in soak["strategies"].items():
        out.append(f"<h3>{escape(strategy)}</h3>")
        per = series.get(strategy, {})
        windows = windows_of(faults.get(strategy, []))
        charts = []
        for metric, title, unit in CHARTS:
            comps = sorted(c for m, c in per if m == metric)
            if not comps:
                continue
            lines = [Series(c, PALETTE[i % len(PALETTE)], per[(metric, c)])
                     for i, c in enumerate(comps)]
            charts.append(line_chart(title, unit, lines, windows, duration_s))
        out.append('<div class="charts">' + "".join(charts) + "</div>")
        out.append('<table class="trends"><thead><tr><th>metric</th><th>component</th>'
                   "<th>verdict</th><th>slope /h</th><th>limit /h</th><th>first third</th>"
                   "<th>last third</th></tr></thead><tbody>")
        for t in entry["trends"]:
            cls = "bad" if t["verdict"] == "growing" else ("ok" if t["verdict"] == "ok" else "")
            out.append(f"<tr><td>{escape(t['metric'])}</td><td>{escape(t['component'])}</td>"
                       f'<td class="{cls}">{escape(t["verdict"])}</td>'
                       f"<td>{t['slope_per_h']:g}</td><td>{t['limit_per_h']:g}</td>"
                       f"<td>{t['first_median']:g}</td><td>{t['last_median']:g}</td></tr>")
        out.append("</tbody></table>")
        periodic = entry["periodic"]
        out.append(f"<p>{periodic['checks']} periodic checks of "
                   f"{escape(', '.join(periodic['invariants']))}; "
                   f"{len(periodic['confirmed'])} confirmed violations.</p>")
        if periodic["observations"]:
            out.append('<table class="checks"><thead><tr><th>t (s)</th><th>invariant</th>'
                       "<th>result</th></tr></thead><tbody>")
            for o in periodic["observations"]:
                res = ("holds" if o["ok"] else
                       escape(o.get("error") or f"{o['violations']} seen (unconfirmed)"))
                out.append(f"<tr><td>{o['t']:g}</td><td>{escape(o['name'])}</td>"
                           f'<td class="{"ok" if o["ok"] else ""}">{res}</td></tr>')
            out.append("</tbody></table>")
        for c in periodic["confirmed"]:
            out.append(f'<p class="bad">{escape(c["name"])} violated: first seen at '
                       f"{c['first_seen_s']:g}s, still at {c['confirmed_at_s']:g}s: "
                       f"<code>{escape(str(c['example']))}</code></p>")
    return "\n".join(out) + "\n"
