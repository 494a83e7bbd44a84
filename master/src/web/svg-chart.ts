/**
 * Inline SVG charts for the stats page (no scripts): bars for a count over time, a sparkline for one or
 * more series of values. Every label is escaped; values are plain numbers placed in coordinates.
 */
import { esc } from '@pyti/common';

export interface ChartPoint {
  /** A label for the point's tooltip (e.g. its time). */
  label: string;
  value: number | null;
}

const W = 640;
const H = 120;
const PAD = 4;

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** Vertical bars, one per point (null: no bar), scaled to the largest value; `unit` names the values. */
export function barChart(title: string, points: ChartPoint[], unit: string): string {
  const max = Math.max(1, ...points.map((p) => p.value ?? 0));
  const n = Math.max(1, points.length);
  const bw = (W - 2 * PAD) / n;
  const bars = points.map((p, i) => {
    if (p.value === null) return '';
    const h = ((H - 2 * PAD) * p.value) / max;
    return `<rect x="${fmt(PAD + i * bw)}" y="${fmt(H - PAD - h)}" width="${fmt(Math.max(1, bw - 1))}" height="${fmt(h)}" fill="#4b6bd6">`
      + `<title>${esc(`${p.label}: ${p.value} ${unit}`)}</title></rect>`;
  }).join('');
  return `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">`
    + `<title>${esc(`${title} (max ${max} ${unit})`)}</title><rect x="0" y="0" width="${W}" height="${H}" fill="#fafbfc" stroke="#dde1e6"/>${bars}</svg>`;
}

/** Sparklines of several series over the same points, scaled to the largest value of all. */
export function sparkline(title: string, series: { name: string; colour: string; points: ChartPoint[] }[], unit: string): string {
  const all = series.flatMap((s) => s.points.map((p) => p.value ?? 0));
  const max = Math.max(1, ...all);
  const n = Math.max(2, ...series.map((s) => s.points.length));
  const x = (i: number) => PAD + ((W - 2 * PAD) * i) / (n - 1);
  const y = (v: number) => H - PAD - ((H - 2 * PAD) * v) / max;
  const lines = series.map((s) => {
    // A gap (null) breaks the line into segments.
    const segs: string[][] = [[]];
    s.points.forEach((p, i) => {
      if (p.value === null) segs.push([]);
      else segs[segs.length - 1]!.push(`${fmt(x(i))},${fmt(y(p.value))}`);
    });
    const polys = segs.filter((g) => g.length > 0).map((g) => g.length === 1
      ? `<circle cx="${g[0]!.split(',')[0]}" cy="${g[0]!.split(',')[1]}" r="2" fill="${esc(s.colour)}"/>`
      : `<polyline fill="none" stroke="${esc(s.colour)}" stroke-width="2" points="${g.join(' ')}"/>`).join('');
    return `<g class="series"><title>${esc(s.name)}</title>${polys}</g>`;
  }).join('');
  const legend = series.map((s) => `<tspan fill="${esc(s.colour)}">${esc(s.name)}</tspan>`).join(' · ');
  return `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">`
    + `<title>${esc(`${title} (max ${fmt(max)} ${unit})`)}</title><rect x="0" y="0" width="${W}" height="${H}" fill="#fafbfc" stroke="#dde1e6"/>${lines}`
    + `<text x="${PAD + 4}" y="14" font-size="11">${legend} (max ${esc(fmt(max))} ${esc(unit)})</text></svg>`;
}
