/**
 * Parses one phase's `sinkhole.jsonl` (written in the guest by tasks/guest/sinkhole.py, cut per task
 * by the agent) into shape-checked records. The file comes out of the sandbox: every line, field,
 * string and count is capped; a line of the wrong shape is counted and dropped, never thrown.
 *
 * Besides records the file holds control lines (`{"ctl": ...}`): `flushed` (the task's share ends
 * here; `suppressed` records beyond the sinkhole's own cap), `unavailable` (the sinkhole could not
 * be set up: the phase ran without it) and `note`. They become `notes`.
 */
import type { Phase, SinkholeRecord } from '@pyti/common';

/** Caps of the parse. */
export const SINKHOLE_LIMITS = {
  /** Lines looked at (records and control lines). */
  lines: 50_000,
  /** Records kept; more are counted as rejected. */
  records: 5_000,
  /** Bytes of one line. */
  lineBytes: 64 * 1024,
  /** Headers kept per HTTP request. */
  headers: 64,
  /** Notes kept. */
  notes: 20,
} as const;

/** What a phase's sinkhole log said. */
export interface ParsedSinkholeLog {
  records: SinkholeRecord[];
  /** Lines that were not a record or control line of the right shape, or beyond a cap. */
  rejected: number;
  /** What the control lines said (the sinkhole unavailable, records it left out), for people. */
  notes: string[];
}

const KINDS = new Set(['dns', 'tcp', 'udp']);
const ADDRESS = /^(unknown|[0-9.]{7,15}|[0-9a-f:.]{2,45})$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A string of at most `max` characters, or undefined when absent; null when of the wrong type. */
function optStr(o: Obj, k: string, max: number): string | undefined | null {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') return null;
  return v.length > max ? v.slice(0, max) : v;
}

const intIn = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** One record line, or null when its shape is wrong. */
function toRecord(o: Obj, phase: Phase, line: number): SinkholeRecord | null {
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) return null;
  if (typeof o.address !== 'string' || !ADDRESS.test(o.address)) return null;
  if (!intIn(o.port, 0, 65535) || !intIn(o.bytesSent, 0, 2 ** 40)) return null;
  if (typeof o.time !== 'number' || !Number.isFinite(o.time) || o.time < 0 || o.time > 2 ** 33) return null;
  const rec: SinkholeRecord = { phase, line, time: o.time, kind: o.kind as SinkholeRecord['kind'], address: o.address, port: o.port, bytesSent: o.bytesSent };
  if (o.kind === 'dns') {
    const name = optStr(o, 'dnsName', 512);
    const type = optStr(o, 'dnsType', 16);
    if (typeof name !== 'string' || typeof type !== 'string') return null;
    rec.dnsName = name;
    rec.dnsType = type;
  }
  const sni = optStr(o, 'sni', 256);
  if (sni === null) return null;
  if (sni !== undefined) rec.sni = sni;
  if (o.http !== undefined) {
    const h = o.http;
    if (!isObj(h) || !Array.isArray(h.headers)) return null;
    const method = optStr(h, 'method', 16);
    const path = optStr(h, 'path', 2048);
    const host = optStr(h, 'host', 1024);
    if (typeof method !== 'string' || typeof path !== 'string' || host === null) return null;
    const headers: [string, string][] = [];
    for (const pair of h.headers.slice(0, SINKHOLE_LIMITS.headers)) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return null;
      headers.push([pair[0].slice(0, 128), pair[1].slice(0, 1024)]);
    }
    rec.http = { method, path, headers, ...(host !== undefined ? { host } : {}) };
  }
  const payload = optStr(o, 'payloadBase64', 1400);
  if (payload === null || (payload !== undefined && (payload.length > 1368 || !BASE64.test(payload)))) return null;
  if (payload) rec.payloadBase64 = payload;
  return rec;
}

/** The note a control line makes, undefined for a well-formed line that says nothing, null when malformed. */
function toNote(o: Obj): string | undefined | null {
  switch (o.ctl) {
    case 'flushed':
      if (o.suppressed !== undefined && !intIn(o.suppressed, 0, 2 ** 40)) return null;
      return typeof o.suppressed === 'number' && o.suppressed > 0 ? `the sinkhole recorded ${o.suppressed} more records than it keeps` : undefined;
    case 'unavailable': {
      const r = optStr(o, 'reason', 2000);
      return typeof r === 'string' ? `the sinkhole was unavailable: ${r}` : null;
    }
    case 'note': {
      const t = optStr(o, 'text', 500);
      return typeof t === 'string' ? t : null;
    }
    default:
      return null;
  }
}

/** Parses one phase's sinkhole log. Pure; never throws. */
export function parseSinkholeLog(buf: Buffer, phase: Phase): ParsedSinkholeLog {
  const records: SinkholeRecord[] = [];
  const notes: string[] = [];
  let rejected = 0;
  let lineNo = 0;
  let start = 0;
  while (start < buf.length) {
    let end = buf.indexOf(0x0a, start);
    if (end < 0) end = buf.length;
    lineNo++;
    const len = end - start;
    const slice = buf.subarray(start, end);
    start = end + 1;
    if (len === 0) continue;
    if (lineNo > SINKHOLE_LIMITS.lines || len > SINKHOLE_LIMITS.lineBytes) {
      rejected++;
      continue;
    }
    let o: unknown;
    try {
      o = JSON.parse(slice.toString('utf8'));
    } catch {
      rejected++;
      continue;
    }
    if (!isObj(o)) {
      rejected++;
      continue;
    }
    if ('ctl' in o) {
      const note = toNote(o);
      if (note === null) rejected++;
      else if (note !== undefined && notes.length < SINKHOLE_LIMITS.notes) notes.push(note);
      continue;
    }
    const rec = records.length < SINKHOLE_LIMITS.records ? toRecord(o, phase, lineNo) : null;
    if (rec) records.push(rec);
    else rejected++;
  }
  return { records, rejected, notes };
}
