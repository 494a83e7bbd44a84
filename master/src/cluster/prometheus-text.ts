/**
 * Prometheus' text exposition format (version 0.0.4): metric families with `# HELP` and `# TYPE`
 * lines, then one sample per line, label values escaped (backslash, double quote, newline), help text
 * escaped (backslash, newline). Names are checked here: a bad one is a programming error.
 */

/** The Content-Type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

/** One metric family: gauges and counters have plain samples; a histogram its buckets, sum and count. */
export type MetricFamily =
  | { name: string; help: string; type: 'gauge' | 'counter'; samples: { labels?: Labels; value: number }[] }
  | { name: string; help: string; type: 'histogram'; buckets: readonly number[]; series: { labels?: Labels; counts: readonly number[]; sum: number; count: number }[] };

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** A number as the format writes it (`+Inf`, `-Inf`, `NaN`, else JavaScript's shortest form). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  for (const [k] of pairs) if (!LABEL.test(k)) throw new Error(`bad label name ${k}`);
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** The families as exposition text (ends with a newline). */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`bad metric name ${f.name}`);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== 'histogram') {
      for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
      continue;
    }
    for (const s of f.series) {
      f.buckets.forEach((le, i) => out.push(`${f.name}_bucket${labelText(s.labels, ['le', formatValue(le)])} ${formatValue(s.counts[i] ?? 0)}`));
      out.push(`${f.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${formatValue(s.count)}`);
      out.push(`${f.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`, `${f.name}_count${labelText(s.labels)} ${formatValue(s.count)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
