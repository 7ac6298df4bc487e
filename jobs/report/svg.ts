/**
 * Small chart functions returning inline SVG strings (no scripts, no external resources). Every chart
 * carries a `data-chart` attribute and a <title>; all text is escaped.
 */
export const COLORS = { model: '#1d4ed8', previous: '#4b5563', scorecard: '#c2410c', actual: '#15803d', reference: '#6b7280', grid: '#e5e7eb', axis: '#374151', text: '#111827', muted: '#374151' };

/** The charts' coordinate box (viewBox); charts scale to their column, so text sizes are in these units. */
export const W = 480;
const H = 300;
const M = { top: 72, right: 24, bottom: 52, left: 66 };
/** Approximate advance of one character of chart text per font unit (system sans-serif). */
const CHAR_EM = 0.56;
/** Font sizes of chart text (the CSS in render.ts sets the same). */
export const FONT = { title: 15, tick: 12.5, legend: 12, axis: 13, cell: 24 };

/** Relative luminance of a #rrggbb colour (WCAG 2). */
function luminance(hex: string): number {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

/** WCAG contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** `color` at `opacity` over `under` (both #rrggbb), as one #rrggbb colour. */
export function blend(color: string, opacity: number, under = '#ffffff'): string {
  const ch = (hex: string, i: number) => parseInt(hex.slice(i, i + 2), 16);
  return `#${[1, 3, 5].map((i) => Math.round(ch(color, i) * opacity + ch(under, i) * (1 - opacity)).toString(16).padStart(2, '0')).join('')}`;
}

/** The text colour (the body's, white or black) that contrasts most with `background`. */
export function textOn(background: string): string {
  return [COLORS.text, '#ffffff', '#000000'].reduce((best, ink) => (contrastRatio(ink, background) > contrastRatio(best, background) ? ink : best));
}

/** Width of a text in chart units (an estimate: the browser test checks the real boxes). */
export function textWidth(text: string, size: number): number {
  return text.length * size * CHAR_EM;
}

/** Shortens a text to fit `width` at `size`, at a word boundary where possible, with an ellipsis. */
export function fitText(text: string, width: number, size: number): string {
  if (textWidth(text, size) <= width) return text;
  const max = Math.max(1, Math.floor(width / (size * CHAR_EM)) - 1);
  const cut = text.slice(0, max);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:(-]+$/, '')}\u2026`;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const fmt = (v: number): string => (Math.round(v * 100) / 100).toString();
export const pct = (v: number, digits = 0): string => `${(v * 100).toFixed(digits)}%`;

interface Scale { (v: number): number }
function scale(d0: number, d1: number, r0: number, r1: number): Scale {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

/** A round step (1, 2, 2.5 or 5 times a power of ten) giving about `count` intervals over `span`. */
export function niceStep(span: number, count = 5): number {
  const raw = span / count || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
}

/** The smallest multiple of a nice step at or above `value`. */
export function niceMax(value: number): number {
  const step = niceStep(value);
  return Math.ceil(value / step - 1e-9) * step;
}

function ticks(min: number, max: number): number[] {
  const step = niceStep(max - min);
  const out: number[] = [];
  for (let v = min; v <= max + step * 1e-6; v += step) out.push(Math.round(v / step) * step);
  return out;
}

function open(id: string, title: string, description: string, height = H): string {
  const tid = `chart-${escapeXml(id)}-title`;
  return `<svg class="chart" data-chart="${escapeXml(id)}" role="img" aria-labelledby="${tid}" viewBox="0 0 ${W} ${height}" width="${W}" height="${height}">`
    + `<title id="${tid}">${escapeXml(title)}</title><desc>${escapeXml(description)}</desc>`
    + `<text x="8" y="20" class="chart-title">${escapeXml(fitText(title, W - 16, FONT.title))}</text>`;
}

/** Swatches under the title, left to right, wrapping onto a second row when needed. */
function legend(items: { name: string; color: string; dashed?: boolean }[]): string {
  let x = 8;
  let y = 36;
  const parts: string[] = [];
  for (const item of items) {
    const width = 34 + textWidth(item.name, FONT.legend);
    if (x > 8 && x + width > W - M.right) {
      x = 8;
      y += 15;
    }
    parts.push(`<g class="legend"><line x1="${x}" y1="${y}" x2="${x + 16}" y2="${y}" stroke="${item.color}" stroke-width="3"${item.dashed ? ' stroke-dasharray="5 3"' : ''}/>`
      + `<text x="${x + 20}" y="${y + 4}" class="legend-text">${escapeXml(item.name)}</text></g>`);
    x += width;
  }
  return parts.join('');
}

interface Axis { label: string; min: number; max: number; format?: (v: number) => string; categories?: string[] }

/** Extra bottom margin for two-line category labels. */
const twoLines = (x: Axis): number => (x.categories?.some((c) => c.includes('\n')) ? 15 : 0);

/** A tick label; a category label may hold one line break (two lines). */
function tickText(x: number, y: number, label: string): string {
  const lines = label.split('\n');
  if (lines.length === 1) return `<text x="${x}" y="${y}" text-anchor="middle" class="tick">${escapeXml(label)}</text>`;
  return `<text x="${x}" y="${y}" text-anchor="middle" class="tick">${lines.map((l, i) => `<tspan x="${x}" dy="${i ? '1.2em' : 0}">${escapeXml(l)}</tspan>`).join('')}</text>`;
}

/** Grid, ticks and axis titles; the plot spans y from M.top to `bottom`. */
function axes(x: Axis, y: Axis, sx: Scale, sy: Scale, height: number): string {
  const bottom = height - M.bottom - twoLines(x);
  const fx = x.format ?? fmt;
  const fy = y.format ?? fmt;
  const out: string[] = [];
  for (const t of ticks(y.min, y.max)) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${sy(t)}" y2="${sy(t)}" stroke="${COLORS.grid}"/>`
      + `<text x="${M.left - 6}" y="${sy(t) + 4}" text-anchor="end" class="tick">${escapeXml(fy(t))}</text>`);
  }
  const xt = x.categories ? x.categories.map((_, i) => i) : ticks(x.min, x.max);
  for (const t of xt) out.push(tickText(sx(t), bottom + 20, x.categories ? x.categories[t] : fx(t)));
  out.push(`<path d="M${M.left},${M.top}V${bottom}H${W - M.right}" fill="none" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${height - 10}" text-anchor="middle" class="axis-label">${escapeXml(fitText(x.label, W - 16, FONT.axis))}</text>`);
  out.push(`<text transform="translate(15 ${(M.top + bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(fitText(y.label, bottom - M.top + 40, FONT.axis))}</text>`);
  return out.join('');
}

/** A dashed horizontal reference line across the plot, labelled at its right end. */
function referenceLine(sy: Scale, value: number, label: string): string {
  const y = sy(value).toFixed(1);
  return `<line x1="${M.left}" x2="${W - M.right}" y1="${y}" y2="${y}" stroke="${COLORS.reference}" stroke-width="1.5" stroke-dasharray="6 4"/>`
    + `<text x="${W - M.right - 4}" y="${(sy(value) - 5).toFixed(1)}" text-anchor="end" class="tick">${escapeXml(label)}</text>`;
}

export interface LineSeries { name: string; points: [number, number][]; color: string; dashed?: boolean; markers?: boolean }

export interface LineChartOptions {
  id: string;
  title: string;
  description: string;
  series: LineSeries[];
  x: Axis;
  y: Axis;
  /** draws the y = x reference line (chance for ROC, perfect calibration for reliability) */
  diagonal?: string;
}

export function lineChart(o: LineChartOptions): string {
  const sx = scale(o.x.min, o.x.max, M.left, W - M.right);
  const sy = scale(o.y.min, o.y.max, H - M.bottom - twoLines(o.x), M.top);
  const parts = [open(o.id, o.title, o.description), axes(o.x, o.y, sx, sy, H)];
  const legendItems = o.series.map((s) => ({ name: s.name, color: s.color, dashed: s.dashed }));
  if (o.diagonal) {
    const lo = Math.max(o.x.min, o.y.min);
    const hi = Math.min(o.x.max, o.y.max);
    parts.push(`<path d="M${sx(lo)},${sy(lo)}L${sx(hi)},${sy(hi)}" stroke="${COLORS.reference}" stroke-dasharray="2 4" fill="none"/>`);
    legendItems.push({ name: o.diagonal, color: COLORS.reference, dashed: true });
  }
  for (const s of o.series) {
    if (!s.points.length) continue;
    const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (s.markers) {
      for (const [x, y] of s.points) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
    }
  }
  parts.push(legend(legendItems), '</svg>');
  return parts.join('');
}

export interface BarChartOptions {
  id: string;
  title: string;
  description: string;
  /** category labels; one '\n' splits a label over two lines */
  categories: string[];
  series: { name: string; values: number[]; color: string }[];
  y: { label: string; max?: number; format?: (v: number) => string };
  xLabel: string;
  /** a dashed horizontal line (e.g. the average), in the legend's words */
  reference?: { value: number; label: string };
}

/** Grouped vertical bars, one group per category; the y axis is scaled to the data unless `y.max` is given. */
export function barChart(o: BarChartOptions): string {
  const all = [...o.series.flatMap((s) => s.values), o.reference?.value ?? 0];
  const max = o.y.max ?? niceMax(Math.max(1e-9, ...all) * 1.12);
  const xAxis: Axis = { label: o.xLabel, min: 0, max: 1, categories: o.categories };
  const bottom = H - M.bottom - twoLines(xAxis);
  const sy = scale(0, max, bottom, M.top);
  const band = (W - M.left - M.right) / Math.max(1, o.categories.length);
  const sx: Scale = (i) => M.left + band * (i + 0.5);
  const parts = [open(o.id, o.title, o.description), axes(xAxis, { label: o.y.label, min: 0, max, format: o.y.format }, sx, sy, H)];
  const barWidth = (band * 0.75) / Math.max(1, o.series.length);
  o.series.forEach((s, k) => {
    s.values.forEach((v, i) => {
      const x = M.left + band * i + band * 0.125 + barWidth * k;
      const y = sy(Math.max(0, v));
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0.5, bottom - y).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${o.categories[i].replace('\n', ' ')} - ${s.name}: ${(o.y.format ?? fmt)(v)}`)}</title></rect>`);
    });
  });
  if (o.reference) parts.push(referenceLine(sy, o.reference.value, o.reference.label));
  parts.push(legend(o.series.map((s) => ({ name: s.name, color: s.color }))), '</svg>');
  return parts.join('');
}

/** Horizontal bars, in the order given (feature importance, drift); labels get the width the longest needs. */
export function horizontalBarChart(o: { id: string; title: string; description: string; items: { label: string; value: number; color: string }[]; format?: (v: number) => string; lines?: { value: number; label: string }[] }): string {
  const rowH = 21;
  const top = 34 + (o.lines?.length ? 16 : 0);
  const height = top + o.items.length * rowH + 14;
  const format = o.format ?? fmt;
  const valueRoom = Math.max(...o.items.map((i) => textWidth(format(i.value), FONT.tick)), 20) + 10;
  const left = Math.min(W * 0.55, 12 + Math.max(...o.items.map((i) => textWidth(i.label, FONT.tick)), 40));
  const max = Math.max(1e-9, ...o.items.map((i) => i.value), ...(o.lines ?? []).map((l) => l.value));
  const sx = scale(0, max, left, W - M.right - valueRoom);
  const parts = [open(o.id, o.title, o.description, height)];
  o.items.forEach((item, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 6}" y="${y + 15}" text-anchor="end" class="tick">${escapeXml(fitText(item.label, left - 10, FONT.tick))}</text>`
      + `<rect x="${left}" y="${y + 3}" width="${Math.max(1, sx(item.value) - left).toFixed(1)}" height="${rowH - 6}" fill="${item.color}"/>`
      + `<text x="${(sx(item.value) + 5).toFixed(1)}" y="${y + 15}" class="tick">${escapeXml(format(item.value))}</text>`);
  });
  let labelledUpTo = -Infinity;
  for (const l of o.lines ?? []) {
    const x = sx(l.value);
    parts.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${top - 2}" y2="${height - 12}" stroke="${COLORS.reference}" stroke-dasharray="4 3"/>`);
    const half = textWidth(l.label, FONT.tick) / 2;
    if (x - half > labelledUpTo + 4) { // a label that would overlap the previous one is left out (the caption names the lines)
      parts.push(`<text x="${x.toFixed(1)}" y="${top - 5}" text-anchor="middle" class="tick">${escapeXml(l.label)}</text>`);
      labelledUpTo = x + half;
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** A matrix of counts, shaded by size; `good[i][j]` cells (correct outcomes) in green, the others in orange; text in the colour that contrasts most with its cell. */
export function matrixChart(o: { id: string; title: string; description: string; rowLabel: string; colLabel: string; rowLabels: string[]; colLabels: string[]; cells: number[][]; good: boolean[][]; notes?: string[][] }): string {
  const left = 120;
  const top = 70;
  const cellW = (W - left - M.right) / o.colLabels.length;
  const cellH = 84;
  const height = top + cellH * o.rowLabels.length + 12;
  const max = Math.max(1, ...o.cells.flat());
  const parts = [open(o.id, o.title, o.description, height)];
  parts.push(`<text x="${left + (W - left - M.right) / 2}" y="42" text-anchor="middle" class="axis-label">${escapeXml(o.colLabel)}</text>`);
  o.colLabels.forEach((c, j) => parts.push(`<text x="${left + cellW * (j + 0.5)}" y="62" text-anchor="middle" class="tick">${escapeXml(fitText(c, cellW - 6, FONT.tick))}</text>`));
  o.rowLabels.forEach((r, i) => {
    parts.push(`<text x="${left - 10}" y="${top + cellH * (i + 0.5) + 4}" text-anchor="end" class="tick">${escapeXml(fitText(r, left - 40, FONT.tick))}</text>`);
    o.colLabels.forEach((_, j) => {
      const v = o.cells[i][j];
      const shade = 0.12 + 0.78 * (v / max);
      const x = left + cellW * j;
      const y = top + cellH * i;
      const bg = blend(o.good[i][j] ? COLORS.actual : COLORS.scorecard, shade);
      const ink = textOn(bg);
      parts.push(`<rect x="${x + 2}" y="${y + 2}" width="${cellW - 4}" height="${cellH - 4}" fill="${bg}"/>`
        + `<text x="${x + cellW / 2}" y="${y + cellH / 2}" text-anchor="middle" class="cell" style="fill:${ink}" data-bg="${bg}">${escapeXml(v.toLocaleString('en-US'))}</text>`);
      const note = o.notes?.[i]?.[j];
      if (note) parts.push(`<text x="${x + cellW / 2}" y="${y + cellH / 2 + 20}" text-anchor="middle" class="tick" style="fill:${ink}" data-bg="${bg}">${escapeXml(fitText(note, cellW - 8, FONT.tick))}</text>`);
    });
  });
  parts.push(`<text transform="translate(17 ${top + (cellH * o.rowLabels.length) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(o.rowLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}
