/**
 * A hostile slave for the browser tests: it registers through the master's real command API (its
 * own token), leases a job and answers with whatever it likes — here, a real report with HTML/JS
 * payloads written into every free-text field, progress events and artifact names carrying them, or
 * an error outcome whose message carries them. Only the master's validation stands between it and
 * the pages.
 */
import { createHash } from 'node:crypto';
import { COMMAND_BLOB_PATH, COMMAND_PROTOCOL_VERSION, COMMAND_RPC_PATH, type LeasedJob } from '@pyti/common';

/** The payloads: each, if it ever ran in a page, sets `window.__pwned`. */
export const PAYLOADS = {
  script: '<script>window.__pwned=1</script>',
  img: '"><img src=x onerror=window.__pwned=1>',
  jsUrl: 'javascript:window.__pwned=1',
  svg: "'><svg onload=window.__pwned=1>",
} as const;

/** All payloads in one string (quotes, angle brackets, a newline and an entity-looking `&#10;`). */
export const PAYLOAD_TEXT = `${PAYLOADS.script} ${PAYLOADS.img}\n${PAYLOADS.svg} &#10; ${PAYLOADS.jsUrl}`;

/** The artifacts a poisoned report comes with: a trace named with a payload, and an HTML page. */
export const ARTIFACT_NAMES = { trace: `raw/import/${PAYLOADS.img}.strace`, html: 'raw/import/evil.html' } as const;

/** Report keys whose values are enumerations or identifiers the renderer switches on: left alone so the report still renders. */
const KEEP = new Set([
  'schemaVersion', 'verdict', 'result', 'severity', 'maxSeverity', 'phase', 'status', 'kind', 'failurePolicy', 'rule', 'id',
  'sha256', 'startedAt', 'finishedAt', 'family', 'op', 'outcome', 'network', 'isolation', 'level', 'state', 'mode',
]);

/**
 * A deep copy of `report` with `payload` appended to every string that is free text (not in KEEP),
 * and every `url`-like field replaced by a `javascript:` URL.
 */
export function poisonReport(report: unknown, payload = PAYLOAD_TEXT): unknown {
  const walk = (v: unknown, key: string): unknown => {
    if (typeof v === 'string') {
      if (KEEP.has(key)) return v;
      if (/url$/i.test(key)) return PAYLOADS.jsUrl;
      return `${v} ${payload}`;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(report, '');
}

export class RogueSlave {
  constructor(private readonly masterUrl: string, private readonly token: string) {}

  /** One JSON-RPC call; throws with the master's error object on refusal. */
  async rpc<T>(method: string, params: unknown): Promise<T> {
    const res = await fetch(`${this.masterUrl}${COMMAND_RPC_PATH}`, {
      method: 'POST', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const j = (await res.json()) as { result?: T; error?: unknown };
    if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
    return j.result!;
  }

  /** Registers for the `qemu` backend only (so the real bwrap slave and this one never take each other's jobs). */
  async register(host = `rogue ${PAYLOADS.img}`): Promise<void> {
    await this.rpc('slave.register', {
      protocolVersion: COMMAND_PROTOCOL_VERSION, version: `9.9 ${PAYLOADS.script}`.slice(0, 100), host,
      capabilities: { backends: ['qemu'], python: '3.11', platforms: ['linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: 1 },
    });
  }

  /** Leases one job (waits up to 5 s); throws when none comes. */
  async lease(): Promise<LeasedJob> {
    const { jobs } = await this.rpc<{ jobs: LeasedJob[] }>('jobs.lease', { max: 1, waitMs: 5000 });
    if (!jobs.length) throw new Error('the rogue slave got no job');
    return jobs[0]!;
  }

  /** Sends progress events whose free text carries the payloads. */
  async progress(leaseId: string, payload = PAYLOAD_TEXT): Promise<void> {
    const at = Date.now();
    await this.rpc('jobs.progress', {
      leaseId, events: [
        { at, kind: 'phase', phase: 'auditing' },
        { at: at + 1, kind: 'task-started', task: `install ${PAYLOADS.img}`.slice(0, 100) },
        { at: at + 2, kind: 'log', text: `log line ${payload}` },
        { at: at + 3, kind: 'task-finished', task: `install ${PAYLOADS.script}`.slice(0, 100), status: `pass ${PAYLOADS.svg}`.slice(0, 50) },
      ],
    });
  }

  /** Stores `bytes` as a blob; returns its reference for an artifact. */
  async putBlob(bytes: Buffer): Promise<{ sha256: string; sizeBytes: number }> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const res = await fetch(`${this.masterUrl}${COMMAND_BLOB_PATH}/${sha256}`, {
      method: 'PUT', headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes),
    });
    if (res.status >= 300) throw new Error(`blob upload: HTTP ${res.status}`);
    return { sha256, sizeBytes: bytes.length };
  }

  /**
   * Completes a lease with `report`, a poisoned prefetch summary and two artifacts: a trace whose
   * name and content carry payloads (ARTIFACT_NAMES.trace) and an HTML page (ARTIFACT_NAMES.html).
   */
  async completeWithReport(leaseId: string, report: unknown): Promise<void> {
    const trace = await this.putBlob(Buffer.from(`execve("/bin/sh", ["${PAYLOADS.script}"]) = 0\n`));
    const html = await this.putBlob(Buffer.from(`<!doctype html><html><body>${PAYLOADS.script}${PAYLOADS.img}</body></html>\n`));
    await this.rpc('jobs.complete', {
      leaseId,
      outcome: {
        kind: 'report', report,
        artifacts: [{ name: ARTIFACT_NAMES.trace, ...trace }, { name: ARTIFACT_NAMES.html, ...html }],
        prefetch: {
          wheels: [`evil-1.0-py3-none-any.whl ${PAYLOADS.script}`], downloaded: 1, durationMs: 5, error: `pip said ${PAYLOAD_TEXT}`,
          testRequirements: { requirements: [`pytest ${PAYLOADS.img}`], sources: [`tox.ini ${PAYLOADS.svg}`], unresolved: [{ requirement: `evil ${PAYLOADS.script}`, reason: PAYLOAD_TEXT }] },
        },
      },
    });
  }

  /** Ends a lease with an error outcome whose message carries the payloads. */
  async completeWithError(leaseId: string): Promise<void> {
    await this.rpc('jobs.complete', { leaseId, outcome: { kind: 'error', code: 'PYTI_SLAVE_FAILED', message: `guest died: ${PAYLOAD_TEXT}`, retry: false } });
  }
}
