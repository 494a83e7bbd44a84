/**
 * The report's "What the package tried to reach and sent" table: one row per sinkhole record
 * (phase, kind, destination, name / SNI / host, method and path, bytes, the first bytes sent).
 * Everything in it came out of the sandbox and is escaped.
 */
import { esc } from '../report/html-escape.js';
import type { SinkholeRecord } from './sinkhole-record.js';

/** Rows shown; the report keeps them all. */
const MAX_ROWS = 500;

/** The first bytes of a payload as text: printable ASCII kept, the rest as `\xNN`. */
export function payloadPreview(b64: string | undefined, max = 160): string {
  if (!b64) return '';
  const bytes = Buffer.from(b64, 'base64').subarray(0, max);
  let s = '';
  for (const c of bytes) s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : c === 0x0a ? '\\n' : c === 0x0d ? '\\r' : `\\x${c.toString(16).padStart(2, '0')}`;
  return s;
}

function destination(r: SinkholeRecord): string {
  return r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
}

function name(r: SinkholeRecord): string {
  if (r.kind === 'dns') return `${r.dnsName ?? ''} (${r.dnsType ?? '?'})`;
  return r.http?.host ?? r.sni ?? '';
}

function request(r: SinkholeRecord): string {
  if (r.http) return `${r.http.method} ${r.http.path}`;
  if (r.sni !== undefined) return 'TLS ClientHello';
  return '';
}

/** The HTML section, or '' when the report has no network records. */
export function networkSection(records: SinkholeRecord[] | undefined): string {
  if (!records) return '';
  const rows = records.slice(0, MAX_ROWS).map((r) => {
    const headers = r.http?.headers.length
      ? `<details><summary>${r.http.headers.length} headers</summary><pre>${esc(r.http.headers.map(([k, v]) => `${k}: ${v}`).join('\n'))}</pre></details>`
      : '';
    return `<tr><td>${esc(r.phase)}</td><td>${esc(r.kind)}</td><td><code>${esc(destination(r))}</code></td><td>${esc(name(r))}</td><td>${esc(request(r))}${headers}</td><td class="num">${r.bytesSent}</td><td><code>${esc(payloadPreview(r.payloadBase64))}</code></td></tr>`;
  }).join('');
  const more = records.length > MAX_ROWS ? `<p class="muted">${records.length - MAX_ROWS} more in report.json</p>` : '';
  return `<section><h2>What the package tried to reach and sent (${records.length})</h2>${records.length
    ? `<p class="muted">Nothing left the sandbox: the sinkhole inside it answered every name with a documentation address and accepted every connection.</p><table><tr><th>phase</th><th>kind</th><th>destination</th><th>name / SNI / host</th><th>request</th><th class="num">bytes sent</th><th>first bytes</th></tr>${rows}</table>${more}`
    : '<p class="muted">No lookup, connection or datagram reached the sinkhole.</p>'}</section>`;
}
