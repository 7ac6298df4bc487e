/**
 * Small chart functions returning inline SVG strings (no scripts, no external resources). Every chart
 * carries a `data-chart` attribute and a <title>; all text is escaped.
 */
export const COLORS = { model: '#1d4ed8', previous: '#6b7280', scorecard: '#c2410c', actual: '#15803d', grid: '#e5e7eb', axis: '#374151' };

const W = 560;
const H = 340;
const M = { top: 60, right: 20, bottom: 52, left: 60 };

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
    + `<text x="${M.left}" y="20" class="chart-title">${escapeXml(title)}</text>`;
}

/** Swatches under the title, left to right, wrapping onto a second row when needed. */
function legend(items: { name: string; color: string; dashed?: boolean }[]): string {
  let x = M.left;
  let y = 34;
  const parts: string[] = [];
  for (const item of items) {
    const width = 34 + item.name.length * 6;
    if (x > M.left && x + width > W - M.right) {
      x = M.left;
      y += 15;
    }
    parts.push(`<g class="legend"><line x1="${x}" y1="${y}" x2="${x + 16}" y2="${y}" stroke="${item.color}" stroke-width="3"${item.dashed ? ' stroke-dasharray="5 3"' : ''}/>`
      + `<text x="${x + 20}" y="${y + 4}" class="legend-text">${escapeXml(item.name)}</text></g>`);
    x += width;
  }
  return parts.join('');
}

interface Axis { label: string; min: number; max: number; format?: (v: number) => string; categories?: string[] }

function axes(x: Axis, y: Axis, sx: Scale, sy: Scale, height = H): string {
  const fx = x.format ?? fmt;
  const fy = y.format ?? fmt;
  const out: string[] = [];
  for (const t of ticks(y.min, y.max)) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${sy(t)}" y2="${sy(t)}" stroke="${COLORS.grid}"/>`
      + `<text x="${M.left - 6}" y="${sy(t) + 4}" text-anchor="end" class="tick">${escapeXml(fy(t))}</text>`);
  }
  const xt = x.categories ? x.categories.map((_, i) => i) : ticks(x.min, x.max);
  for (const t of xt) {
    const label = x.categories ? x.categories[t] : fx(t);
    out.push(`<text x="${sx(t)}" y="${height - M.bottom + 16}" text-anchor="middle" class="tick">${escapeXml(label)}</text>`);
  }
  out.push(`<path d="M${M.left},${M.top}V${height - M.bottom}H${W - M.right}" fill="none" stroke="${COLORS.axis}"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${height - 12}" text-anchor="middle" class="axis-label">${escapeXml(x.label)}</text>`);
  out.push(`<text transform="translate(16 ${(M.top + height - M.bottom) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(y.label)}</text>`);
  return out.join('');
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
  const sy = scale(o.y.min, o.y.max, H - M.bottom, M.top);
  const parts = [open(o.id, o.title, o.description), axes(o.x, o.y, sx, sy)];
  const legendItems = o.series.map((s) => ({ name: s.name, color: s.color, dashed: s.dashed }));
  if (o.diagonal) {
    parts.push(`<path d="M${sx(o.x.min)},${sy(o.y.min)}L${sx(o.x.max)},${sy(o.y.max)}" stroke="#9ca3af" stroke-dasharray="2 4" fill="none"/>`);
    legendItems.push({ name: o.diagonal, color: '#9ca3af', dashed: true });
  }
  for (const s of o.series) {
    if (!s.points.length) continue;
    const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (s.markers) {
      for (const [x, y] of s.points) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="4" fill="${s.color}"/>`);
    }
  }
  parts.push(legend(legendItems), '</svg>');
  return parts.join('');
}

export interface ReliabilityPoint { meanPredicted: number | null; observedRate: number | null; count: number }

/** Calibration plot: mean predicted against observed rate per bin, with the perfect-calibration diagonal. */
export function reliabilityChart(id: string, title: string, series: { name: string; color: string; bins: ReliabilityPoint[] }[]): string {
  return lineChart({
    id, title,
    description: 'Each point is a group of accounts with similar predicted risk: predicted churn (x) against the share that actually churned (y).',
    series: series.map((s) => ({
      name: s.name, color: s.color, markers: true,
      points: s.bins.filter((b) => b.count > 0 && b.meanPredicted !== null && b.observedRate !== null).map((b) => [b.meanPredicted as number, b.observedRate as number] as [number, number]),
    })),
    x: { label: 'Predicted churn probability', min: 0, max: 1, format: (v) => pct(v) },
    y: { label: 'Observed churn rate', min: 0, max: 1, format: (v) => pct(v) },
    diagonal: 'perfect calibration',
  });
}

export interface BarChartOptions {
  id: string;
  title: string;
  description: string;
  categories: string[];
  series: { name: string; values: number[]; color: string }[];
  y: { label: string; max?: number; format?: (v: number) => string };
  xLabel: string;
  /** an optional line drawn over the bars (e.g. cumulative gains) on the same y scale */
  line?: { name: string; values: number[]; color: string };
}

/** Grouped vertical bars, one group per category. */
export function barChart(o: BarChartOptions): string {
  const all = [...o.series.flatMap((s) => s.values), ...(o.line?.values ?? [])];
  const max = o.y.max ?? niceMax(Math.max(1e-9, ...all) * 1.05);
  const sy = scale(0, max, H - M.bottom, M.top);
  const band = (W - M.left - M.right) / Math.max(1, o.categories.length);
  const sx: Scale = (i) => M.left + band * (i + 0.5);
  const parts = [open(o.id, o.title, o.description), axes({ label: o.xLabel, min: 0, max: 1, categories: o.categories }, { label: o.y.label, min: 0, max, format: o.y.format }, sx, sy)];
  const barWidth = (band * 0.75) / Math.max(1, o.series.length);
  o.series.forEach((s, k) => {
    s.values.forEach((v, i) => {
      const x = M.left + band * i + band * 0.125 + barWidth * k;
      const y = sy(Math.max(0, v));
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(0.5, H - M.bottom - y).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${o.categories[i]} - ${s.name}: ${(o.y.format ?? fmt)(v)}`)}</title></rect>`);
    });
  });
  const items = o.series.map((s) => ({ name: s.name, color: s.color }));
  if (o.line) {
    const d = o.line.values.map((v, i) => `${i ? 'L' : 'M'}${sx(i).toFixed(1)},${sy(v).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${o.line.color}" stroke-width="2.5"/>`);
    for (const [i, v] of o.line.values.entries()) parts.push(`<circle cx="${sx(i).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3.5" fill="${o.line.color}"/>`);
    items.push({ name: o.line.name, color: o.line.color });
  }
  parts.push(legend(items), '</svg>');
  return parts.join('');
}

/** Horizontal bars, largest first (feature importance). */
export function horizontalBarChart(o: { id: string; title: string; description: string; items: { label: string; value: number; color: string }[]; format?: (v: number) => string }): string {
  const rowH = 22;
  const top = 36;
  const height = top + o.items.length * rowH + 16;
  const left = 200;
  const max = Math.max(1e-9, ...o.items.map((i) => i.value));
  const sx = scale(0, max, left, W - M.right - 50);
  const parts = [open(o.id, o.title, o.description, height)];
  o.items.forEach((item, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end" class="tick">${escapeXml(item.label)}</text>`
      + `<rect x="${left}" y="${y + 3}" width="${Math.max(1, sx(item.value) - left).toFixed(1)}" height="${rowH - 6}" fill="${item.color}"/>`
      + `<text x="${(sx(item.value) + 6).toFixed(1)}" y="${y + 15}" class="tick">${escapeXml((o.format ?? fmt)(item.value))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** A matrix of counts, shaded by size; `good[i][j]` cells (correct outcomes) in green, the others in orange. */
export function matrixChart(o: { id: string; title: string; description: string; rowLabel: string; colLabel: string; rowLabels: string[]; colLabels: string[]; cells: number[][]; good: boolean[][]; notes?: string[][] }): string {
  const left = 170;
  const top = 70;
  const cellW = (W - left - M.right) / o.colLabels.length;
  const cellH = 100;
  const height = top + cellH * o.rowLabels.length + 20;
  const max = Math.max(1, ...o.cells.flat());
  const parts = [open(o.id, o.title, o.description, height)];
  parts.push(`<text x="${left + (W - left - M.right) / 2}" y="44" text-anchor="middle" class="axis-label">${escapeXml(o.colLabel)}</text>`);
  o.colLabels.forEach((c, j) => parts.push(`<text x="${left + cellW * (j + 0.5)}" y="62" text-anchor="middle" class="tick">${escapeXml(c)}</text>`));
  o.rowLabels.forEach((r, i) => {
    parts.push(`<text x="${left - 10}" y="${top + cellH * (i + 0.5) + 4}" text-anchor="end" class="tick">${escapeXml(r)}</text>`);
    o.colLabels.forEach((_, j) => {
      const v = o.cells[i][j];
      const shade = 0.12 + 0.78 * (v / max);
      const x = left + cellW * j;
      const y = top + cellH * i;
      const textColor = shade > 0.5 ? '#ffffff' : '#111827';
      parts.push(`<rect x="${x + 2}" y="${y + 2}" width="${cellW - 4}" height="${cellH - 4}" fill="${o.good[i][j] ? COLORS.actual : COLORS.scorecard}" fill-opacity="${shade.toFixed(2)}"/>`
        + `<text x="${x + cellW / 2}" y="${y + cellH / 2}" text-anchor="middle" class="cell" fill="${textColor}">${escapeXml(v.toLocaleString('en-US'))}</text>`);
      const note = o.notes?.[i]?.[j];
      if (note) parts.push(`<text x="${x + cellW / 2}" y="${y + cellH / 2 + 20}" text-anchor="middle" class="tick" fill="${textColor}">${escapeXml(note)}</text>`);
    });
  });
  parts.push(`<text transform="translate(16 ${top + (cellH * o.rowLabels.length) / 2}) rotate(-90)" text-anchor="middle" class="axis-label">${escapeXml(o.rowLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}
