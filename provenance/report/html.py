"""The HTML pages: one self-contained file each (styles, script, thumbnails and lineage pictures
inline; a Content-Security-Policy that lets the page fetch nothing), that a producer opens in
a browser and a supervisor prints.

The delivery page holds thumbnails once each (identical frames share one), in a JSON block;
each row's images take theirs when they scroll into view (and all of them before printing),
so a page of 2,000 shots opens at once. Filters by origin, by finding and by name hide rows.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from provenance import atomic
from provenance.errors import ProvenanceError
from provenance.fingerprint import Hasher
from provenance.origins import Origin
from provenance.policy import RULES, Finding
from provenance.records import ToolInfo
from provenance.report.lineage_svg import render_svgs
from provenance.report.model import (
    DeliverableDisclosure,
    DeliveryReport,
    DisclosureReport,
    ReportRow,
)
from provenance.report.thumbnails import Thumbnail, make_thumbnails

__all__ = ["delivery_page", "disclosure_page", "write_delivery_html", "write_page"]


SCHEMA = "provenance-report.1"
"""Written into each page (`<meta name="generator">`), so a script can tell what made it."""

_CSS = """
:root { --ink:#1d2329; --muted:#5d6875; --line:#d9dee4; --bg:#f6f7f9; --block:#b3261e;
  --warn:#8a5a00; --ok:#1e6b34; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: var(--ink); background: #fff; }
header { padding: 20px 28px 12px; border-bottom: 1px solid var(--line); background: var(--bg); }
h1 { margin: 0 0 6px; font-size: 22px; }
h2 { font-size: 17px; margin: 22px 0 8px; }
.verdict { display:inline-block; padding: 3px 10px; border-radius: 4px; font-weight: 700;
  color:#fff; vertical-align: middle; margin-left: 8px; font-size: 14px; }
.verdict.FINALIZED, .verdict.CLEAN { background: var(--ok); }
.verdict.WARNINGS { background: var(--warn); }
.verdict.BLOCKED { background: var(--block); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
code, .digest { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
.counts { margin-top: 8px; }
.badge { display:inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; border: 1px solid rgba(0,0,0,.15); margin: 1px 4px 1px 0; white-space: nowrap; }
.o-capture { background:#d7ecff; } .o-human { background:#e4f5dc; }
.o-ml-assisted { background:#fff2c6; } .o-ai { background:#ffd5d0; }
.o-ai-composite { background:#ffe0cc; } .o-procedural { background:#e9e0f7; }
.o-unknown, .o-untracked { background:#e8e8e8; }
nav.filters { position: sticky; top: 0; z-index: 2; background:#fff; padding: 10px 28px;
  border-bottom: 1px solid var(--line); display:flex; gap: 16px; align-items: center; flex-wrap: wrap; }
nav.filters label { color: var(--muted); }
main { padding: 8px 28px 40px; }
table.shots { width: 100%; border-collapse: collapse; }
table.shots th { text-align: left; color: var(--muted); font-weight: 600; padding: 8px 6px;
  border-bottom: 2px solid var(--line); }
tr.shot td { vertical-align: top; padding: 10px 6px; border-bottom: 1px solid var(--line); }
td.thumbs { white-space: nowrap; width: 1%; }
figure { display:inline-block; margin: 0 6px 0 0; text-align:center; vertical-align: top; }
figure img, .placeholder { width: 160px; height: 90px; object-fit: contain; background:#111;
  border-radius: 3px; display:block; }
.placeholder { background: repeating-linear-gradient(45deg,#eee,#eee 6px,#e2e2e2 6px,#e2e2e2 12px);
  color: var(--muted); font-size: 11px; padding: 8px; white-space: normal; overflow: hidden;
  display:flex; align-items:center; justify-content:center; text-align:center; }
figcaption { font-size: 11px; color: var(--muted); }
.name { font-weight: 600; overflow-wrap: anywhere; }
.meta { color: var(--muted); font-size: 12px; }
ul.plain { list-style: none; padding: 0; margin: 4px 0; }
li.finding { border-left: 4px solid var(--warn); padding: 2px 8px; margin: 0 0 6px; }
li.finding.block { border-color: var(--block); }
.rule { font-weight: 700; }
.fix { color: var(--muted); }
.fix::before { content: "Fix: "; font-weight: 600; }
.none { color: var(--muted); }
details.lineage svg { max-width: 100%; height: auto; }
details.lineage summary { cursor: pointer; color: var(--muted); }
.tool-risk { color: var(--block); }
table.list { border-collapse: collapse; width: 100%; margin: 6px 0 14px; }
table.list th, table.list td { text-align:left; padding: 5px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
table.list th { color: var(--muted); font-weight: 600; }
section.deliverable { border-top: 2px solid var(--line); margin-top: 18px; }
@media print {
  nav.filters { display: none; }
  header { background: none; }
  tr.shot { break-inside: avoid; }
  body { font-size: 11px; }
  figure img, .placeholder { width: 120px; height: 68px; }
}
"""

# Loads a row's thumbnails when it scrolls into view (all of them before printing), filters rows.
_SCRIPT = """
(function () {
  "use strict";
  var store = JSON.parse(document.getElementById("thumbnails").textContent);
  function show(img) {
    var key = img.getAttribute("data-thumb");
    if (key && !img.getAttribute("src")) { img.src = "data:image/jpeg;base64," + store[key]; }
  }
  var images = Array.prototype.slice.call(document.querySelectorAll("img[data-thumb]"));
  if ("IntersectionObserver" in window) {
    var watcher = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { show(entry.target); watcher.unobserve(entry.target); }
      });
    }, { rootMargin: "600px 0px" });
    images.forEach(function (img) { watcher.observe(img); });
  } else {
    images.forEach(show);
  }
  window.addEventListener("beforeprint", function () { images.forEach(show); });
  window.provenanceShowAll = function () { images.forEach(show); return images.length; };

  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.shot"));
  var origin = document.getElementById("filter-origin");
  var finding = document.getElementById("filter-finding");
  var text = document.getElementById("filter-name");
  var shown = document.getElementById("shown");
  function apply() {
    var wantOrigin = origin.value, wantFinding = finding.value;
    var words = text.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var rules = row.getAttribute("data-findings");
      var ok = (!wantOrigin || row.getAttribute("data-origin") === wantOrigin) &&
        (!wantFinding || (wantFinding === "*" ? rules !== "" :
          wantFinding === "-" ? rules === "" : (" " + rules + " ").indexOf(" " + wantFinding + " ") >= 0)) &&
        (!words || row.getAttribute("data-name").indexOf(words) >= 0);
      row.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " shots";
  }
  [origin, finding].forEach(function (el) { el.addEventListener("change", apply); });
  text.addEventListener("input", apply);
  apply();
})();
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def _when(moment: object) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if hasattr(moment, "strftime") else "-"


def _badge(origin: Origin | None) -> str:
    if origin is None:
        return '<span class="badge o-untracked">not in the ledger</span>'
    return (
        f'<span class="badge o-{_e(origin.category.value)}" title="{_e(origin.value)}">'
        f"{_e(origin.alias)}</span>"
    )


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="{SCHEMA}">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
    )


# -- the delivery page ----------------------------------------------------------------------------


def delivery_page(
    report: DeliveryReport,
    thumbnails: Mapping[bytes, Thumbnail],
    svgs: Mapping[str, str],
    svg_problem: str | None = None,
) -> str:
    """The whole page; `thumbnails` by frame path, `svgs` by row key. Paths in the
    workspace are shown relative to it."""
    short = _shortener(report.workspace)
    keys: dict[bytes, str] = {}
    store: dict[str, str] = {}
    by_content: dict[bytes, str] = {}
    for path, thumb in thumbnails.items():
        if thumb.jpeg is None:
            continue
        key = by_content.get(thumb.jpeg)
        if key is None:
            key = by_content[thumb.jpeg] = f"t{len(store)}"
            store[key] = base64.b64encode(thumb.jpeg).decode("ascii")
        keys[path] = key
    parts = [
        _head(f"Delivery report: {report.title}"),
        f'<body data-shots="{len(report.rows)}">',
        _delivery_header(report),
        _filters(report),
        "<main>",
    ]
    if svg_problem and any(row.lineage for row in report.rows):
        parts.append(f'<p class="none">Lineage pictures: {_e(svg_problem)}.</p>')
    if report.loose:
        parts.append('<h2>Findings about no delivered asset</h2><ul class="plain loose">')
        parts.extend(_finding(f, short) for f in report.loose)
        parts.append("</ul>")
    parts.append(
        '<table class="shots"><thead><tr><th>Frames (first, middle, last)</th><th>Shot</th>'
        "<th>Findings</th></tr></thead><tbody>"
    )
    for row in report.rows:
        parts.append(_row(row, thumbnails, keys, svgs, short))
    parts.append("</tbody></table></main>")
    # `</` cannot occur in base64 or in the JSON of plain keys: the block cannot end early.
    parts.append(f'<script type="application/json" id="thumbnails">{json.dumps(store)}</script>')
    parts.append(f"<script>{_SCRIPT}</script></body></html>\n")
    return "".join(parts)


def _delivery_header(report: DeliveryReport) -> str:
    policy = report.policy
    if policy.changes:
        changed = ", ".join(
            f"{_e(rule)} = {_e(sev)}" for rule, sev in sorted(policy.changes.items())
        )
        policy_text = (
            f"{_e(policy.name)} (custom: {_e(policy.source)}; differs from the built-in "
            f"policy in {changed})"
        )
    else:
        policy_text = f"{_e(policy.name)} ({_e(policy.source)}, as built in)"
    if policy.digest:
        policy_text += f' <span class="digest">{_e(policy.digest)}</span>'
    checkpoint = report.checkpoint
    anchor = (
        f"event #{checkpoint.event_id} (the finalize) "
        if report.name
        else f"event #{checkpoint.event_id} (the last, when this report was made) "
    )
    check_text = anchor + f'<span class="digest">{_e(checkpoint.event_hash)}</span>'
    if checkpoint.signed:
        signed = checkpoint.signed
        check_text += (
            f"<br>signed checkpoint: {_e(signed.get('size'))} events, Merkle root "
            f'<span class="digest">{_e(signed.get("root"))}</span>, key '
            f'<span class="digest">{_e(str(signed.get("public_key", ""))[:16])}…</span>'
        )
    rows = [
        ("Delivery", f"{_e(report.source)} ({_e(report.kind)}, {report.files} files, "
         f"{len(report.rows)} assets)"),
        ("Policy", policy_text),
        ("Ledger", check_text),
    ]  # fmt: skip
    if report.finalized_at is not None:
        rows.insert(1, ("Finalized", _e(_when(report.finalized_at))))
    if report.warnings_problem:
        rows.append(("Warnings", f"not listed: {_e(report.warnings_problem)}"))
    rows.append(("Report made", _e(_when(report.made_at))))
    facts = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    counts = "".join(
        f'<span class="badge o-{_e(_category(alias))}">{_e(alias)}: {count}</span>'
        for alias, count in report.counts.items()
    )
    blocking = sum(1 for r in report.rows for f in r.findings if f.blocks) + sum(
        1 for f in report.loose if f.blocks
    )
    total = sum(len(r.findings) for r in report.rows) + len(report.loose)
    return (
        f'<header><h1>{_e(report.title)}<span class="verdict {_e(report.verdict)}">'
        f"{_e(report.verdict)}</span></h1>"
        f'<dl class="facts">{facts}</dl>'
        f'<div class="counts">Assets by origin: {counts or "none"} · findings: {total} '
        f"({blocking} blocking)</div></header>"
    )


def _category(alias: str) -> str:
    from provenance.origins import parse_origin

    if alias == "untracked":
        return "untracked"
    try:
        return parse_origin(alias).category.value
    except ProvenanceError:
        return "unknown"


def _filters(report: DeliveryReport) -> str:
    origins = sorted({r.origin.alias if r.origin else "untracked" for r in report.rows})
    rules = sorted({f.rule for r in report.rows for f in r.findings})
    origin_options = "".join(f'<option value="{_e(o)}">{_e(o)}</option>' for o in origins)
    rule_options = "".join(
        f'<option value="{_e(r)}">{_e(r)}{_e(" — " + RULES[r].title) if r in RULES else ""}'
        "</option>"
        for r in rules
    )
    return (
        '<nav class="filters"><label>Origin <select id="filter-origin"><option value="">all'
        f"</option>{origin_options}</select></label>"
        '<label>Finding <select id="filter-finding"><option value="">all</option>'
        '<option value="*">any finding</option><option value="-">no finding</option>'
        f"{rule_options}</select></label>"
        '<label>Name <input id="filter-name" type="search" placeholder="sh010"></label>'
        f'<span id="shown">{len(report.rows)} of {len(report.rows)} shots</span></nav>'
    )


def _shortener(workspace: str) -> Callable[[str], str]:
    prefix = workspace.rstrip("/") + "/"
    if prefix == "/":
        return lambda text: text
    return lambda text: text.replace(prefix, "")


def _row(
    row: ReportRow,
    thumbnails: Mapping[bytes, Thumbnail],
    keys: Mapping[bytes, str],
    svgs: Mapping[str, str],
    short: Callable[[str], str],
) -> str:
    figures = []
    for frame in row.thumbnails:
        thumb = thumbnails.get(frame.path)
        key = keys.get(frame.path)
        if key is not None and thumb is not None:
            figures.append(
                f'<figure><img class="thumb" data-thumb="{key}" alt="{_e(frame.label)}" '
                f'width="{thumb.width}" height="{thumb.height}"><figcaption>{_e(frame.label)}'
                "</figcaption></figure>"
            )
        else:
            why = thumb.problem if thumb is not None else "not decoded"
            figures.append(
                f'<figure><div class="placeholder" title="{_e(why)}">no preview: {_e(why)}</div>'
                f"<figcaption>{_e(frame.label)}</figcaption></figure>"
            )
    alias = row.origin.alias if row.origin is not None else "untracked"
    rules = " ".join(sorted({f.rule for f in row.findings}))
    what = [f'<div class="name">{_e(row.name)}</div>']
    meta = []
    if row.asset is not None:
        meta.append(f"recorded as {_e(os.path.basename(row.asset.name))} v{row.asset.version}")
    meta.append(f"{row.files} file{'s' if row.files != 1 else ''}")
    if row.frames:
        meta.append(f"frames {_e(row.frames)}")
    meta.append(_size(row.size))
    what.append(f'<div class="meta">{" · ".join(meta)}</div>')
    disputed = ' <span class="badge o-ai">disputed</span>' if row.disputed else ""
    tools = f" made with {_e(', '.join(row.tools))}" if row.tools else ""
    what.append(f"<div>{_badge(row.origin)}{disputed}{tools}</div>")
    if row.asset is not None:
        what.append(f'<div class="meta digest">{_e(row.asset.digest)}</div>')
    if row.sources:
        what.append('<div>Generated material:</div><ul class="plain sources">')
        for source in row.sources:
            vetting = "; ".join(
                f"{_e(t.name)} (trains on inputs: {_e(t.trains_on_inputs)}, secured: "
                f"{_e(t.secured)})"
                for t in source.tools
            )
            risky = any(t.risks for t in source.tools)
            how = "itself" if source.how == "itself" else _e(short(source.how))
            covered = (
                "approved: " + _e("; ".join(source.covered_by))
                if source.covered_by
                else '<span class="tool-risk">no approval covers it</span>'
            )
            what.append(
                f"<li>{_badge(source.origin)} {_e(os.path.basename(source.element))} "
                f'v{source.version}: {how}; <span class="{"tool-risk" if risky else ""}">'
                f"{vetting or 'tool not recorded'}</span>; {covered}</li>"
            )
        what.append("</ul>")
    if row.approvals:
        what.append(f"<div>Approvals: {_e('; '.join(row.approvals))}</div>")
    for performer, consents in row.likeness:
        consent = "; ".join(f"{c.scope} ({c.ref})" for c in consents)
        what.append(
            f"<div>Likeness of {_e(performer)}: "
            + (
                f"consent {_e(consent)}"
                if consent
                else '<span class="tool-risk">no consent on record</span>'
            )
            + "</div>"
        )
    svg = svgs.get(row.key)
    if svg is not None:
        what.append(
            f'<details class="lineage" open><summary>Lineage to the generated material</summary>'
            f"{svg}</details>"
        )
    findings = (
        '<ul class="plain">' + "".join(_finding(f, short) for f in row.findings) + "</ul>"
        if row.findings
        else '<span class="none">none</span>'
    )
    return (
        f'<tr class="shot" id="{row.key}" data-origin="{_e(alias)}" data-findings="{_e(rules)}" '
        f'data-name="{_e(row.name.lower())}"><td class="thumbs">{"".join(figures)}</td>'
        f'<td class="what">{"".join(what)}</td><td class="findings">{findings}</td></tr>'
    )


def _finding(finding: Finding, short: Callable[[str], str]) -> str:
    level = "block" if finding.blocks else "warn"
    fix = f'<div class="fix">{_e(short(finding.fix))}</div>' if finding.fix else ""
    return (
        f'<li class="finding {level}" data-rule="{_e(finding.rule)}"><span class="rule">'
        f"{_e(finding.rule)}</span> ({_e(finding.severity.value)}): "
        f"{_e(short(finding.message))}{fix}</li>"
    )


def write_delivery_html(
    report: DeliveryReport,
    path: Path,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Decode the thumbnails (in worker processes), lay out the lineage pictures, and write the
    page to `path` (atomically). `progress(thumbnails done, thumbnails in all)`."""
    frames: dict[bytes, None] = {}
    for row in report.rows:
        frames.update(dict.fromkeys(frame.path for frame in row.thumbnails))
    wanted = list(frames)
    total = len(wanted)
    with Hasher(workers) as hasher:
        made = make_thumbnails(
            hasher, wanted, None if progress is None else lambda done: progress(done, total)
        )
    thumbnails = dict(zip(wanted, made, strict=True))
    graphs = {row.key: row.lineage for row in report.rows if row.lineage is not None}
    svgs, problem = render_svgs(graphs)
    write_page(path, delivery_page(report, thumbnails, svgs, problem))
    return path


def write_page(path: Path, text: str) -> None:
    """Write a page whole or not at all (a reader never sees half a report)."""
    try:
        atomic.replace(path, text.encode("utf-8"))
    except OSError as exc:
        raise ProvenanceError(
            f"Cannot write {path} ({exc.strerror}). Choose a folder you can write to."
        ) from None


# -- the disclosure page --------------------------------------------------------------------------


def disclosure_page(found: DisclosureReport) -> str:
    parts = [
        _head("Disclosure of generative AI use"),
        "<body><header><h1>Disclosure of generative AI use</h1>",
        f'<dl class="facts"><dt>As the ledger stands</dt><dd>{_e(_when(found.made_at))}</dd>'
        f"<dt>Deliverables</dt><dd>{len(found.deliverables)}</dd></dl></header><main>",
    ]
    if not found.deliverables and not found.undelivered:
        parts.append(
            '<p class="none">No generative AI use is recorded, and no deliverable has been finalized.</p>'
        )
    for section in found.deliverables:
        parts.extend(_disclosure_section(section))
    if found.undelivered:
        parts.append(
            '<section class="deliverable"><h2>Generated material in no finalized deliverable'
            '</h2><table class="list"><thead><tr><th>Element</th><th>Origin</th><th>Tools</th>'
            "<th>Status</th><th>Approvals</th></tr></thead><tbody>"
        )
        for entry in found.undelivered:
            parts.append(
                f"<tr><td>{_e(entry.asset.name)} v{entry.asset.version}</td>"
                f"<td>{_badge(entry.origin)}</td><td>{_tools(entry.tools)}</td>"
                f"<td>{_e(entry.status)}</td><td>{_e('; '.join(entry.approvals) or 'none')}</td></tr>"
            )
        parts.append("</tbody></table></section>")
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _tools(tools: Iterable[ToolInfo]) -> str:
    return (
        "; ".join(
            f"{_e(t.name)} ({_e(t.vendor or 'vendor unknown')}; trains on inputs: "
            f"{_e(t.trains_on_inputs)}; secured: {_e(t.secured)})"
            for t in tools
        )
        or "not recorded"
    )


def _disclosure_section(section: DeliverableDisclosure) -> Iterator[str]:
    info = section.deliverable
    yield (
        f'<section class="deliverable"><h2>{_e(info.name)}</h2><dl class="facts">'
        f"<dt>Finalized</dt><dd>{_e(_when(info.at))} by {_e(info.actor)} (event "
        f"#{info.event_id})</dd><dt>Delivery</dt><dd>{_e(info.source_name)} ({info.files} "
        f"files)</dd><dt>Policy</dt><dd>{_e(info.policy)}</dd></dl>"
    )
    yield "<h3>Generative AI</h3>"
    if not section.uses:
        yield '<p class="none">none</p>'
    else:
        yield (
            '<table class="list"><thead><tr><th>Element</th><th>Tool and vetting</th>'
            "<th>How it is in the deliverable</th><th>Approved by</th></tr></thead><tbody>"
        )
        for use in section.uses:
            how = (
                "delivered as it is"
                if use.use.how == "itself"
                else f"in {_e(use.use.asset)} v{use.use.version}, which {_e(use.use.how)}"
            )
            covered = _e("; ".join(use.use.covered_by)) or '<span class="tool-risk">none</span>'
            yield (
                f"<tr><td>{_badge(use.entry.origin)} {_e(use.entry.asset.name)} "
                f"v{use.entry.asset.version}</td><td>{_tools(use.entry.tools)}</td>"
                f"<td>{how}</td><td>{covered}</td></tr>"
            )
        yield "</tbody></table>"
    yield "<h3>Likeness</h3>"
    if not section.likeness:
        yield '<p class="none">none</p>'
    for item in section.likeness:
        consent = "; ".join(f"{c.scope} ({c.ref})" for c in item.consents)
        where = "" if item.how == "itself" else f", which {_e(item.how)}"
        yield (
            f"<p>{_e(item.performer)} in {_e(item.asset)} v{item.version}{where}: "
            + (
                f"consent {_e(consent)}"
                if consent
                else '<span class="tool-risk">no consent on record</span>'
            )
            + "</p>"
        )
    yield "<h3>Delivered under warnings</h3>"
    if section.warnings_problem:
        yield (
            f'<p class="none">{info.warnings} warning(s), not listed: '
            f"{_e(section.warnings_problem)}</p>"
        )
    elif not section.warnings:
        yield '<p class="none">none</p>'
    else:
        yield '<ul class="plain">'
        for warning in section.warnings:
            fix = f'<div class="fix">{_e(warning.fix)}</div>' if warning.fix else ""
            yield (
                f'<li class="finding warn"><span class="rule">{_e(warning.rule)}</span>: '
                f"{_e(warning.message)}{fix}</li>"
            )
        yield "</ul>"
    yield "</section>"
