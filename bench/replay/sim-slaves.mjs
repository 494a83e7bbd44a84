// Simulated slaves: real command-API clients (JSON-RPC 2.0 at /rpc/v1, common/src/command) that
// register, long-poll `jobs.lease`, hold each job for a time drawn from measured audits, send
// heartbeats (and stop a job the master cancels or no longer honours), then `jobs.complete` it with a
// valid report of the job's file. Hundreds run in one Node process: a slave is a few promises and timers.
import { setMaxListeners } from 'node:events';
import { COMMAND_PROTOCOL_VERSION, COMMAND_RPC_PATH } from '../../common/dist/index.js';
import { simulatedReport } from './sim-report.mjs';

/** A JSON-RPC error from the master; `code` is its PYTI code (data.code). */
export class RpcError extends Error {
  constructor(method, error) {
    super(`${method}: ${error?.data?.code ?? error?.code}: ${error?.message}`);
    this.code = error?.data?.code ?? String(error?.code);
  }
}

/** Resolves after `ms` or when `signal` aborts (its listener removed either way). */
const sleep = (ms, signal) => new Promise((resolve) => {
  if (signal?.aborted) return resolve();
  const onAbort = () => { clearTimeout(t); resolve(); };
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  signal?.addEventListener('abort', onAbort, { once: true });
});

/** Counters shared by a fleet (read by the bench while it runs). */
export function fleetStats() {
  return { registered: 0, leases: 0, leaseTimes: [], completed: 0, cancelled: 0, lost: 0, rejected: 0, rpcErrors: 0, lastError: null };
}

class SimSlave {
  constructor(o) {
    Object.assign(this, o);
    this.jobs = new Map(); // leaseId → { timer }
    this.id = 0;
    this.freed = null;
  }

  async rpc(method, params, retries = 5) {
    for (let attempt = 0; ; attempt++) {
      let body;
      try {
        const res = await fetch(`${this.url}${COMMAND_RPC_PATH}`, {
          method: 'POST', signal: this.signal,
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: ++this.id, method, params }),
        });
        body = await res.json();
      } catch (err) {
        if (this.signal.aborted) throw err;
        this.stats.rpcErrors++;
        this.stats.lastError = `${method}: ${err.cause?.code ?? err.message}`;
        if (attempt >= retries) throw err;
        await sleep(200 * 2 ** attempt, this.signal);
        continue;
      }
      if (body.error) throw new RpcError(method, body.error);
      return body.result;
    }
  }

  async run() {
    const caps = { backends: ['bwrap'], python: '3.11', platforms: ['manylinux_2_36_x86_64', 'linux_x86_64'], implementation: 'cp', abi: 'cp311', concurrency: this.concurrency };
    const reg = await this.rpc('slave.register', { protocolVersion: COMMAND_PROTOCOL_VERSION, version: 'replay', host: 'replay', capabilities: caps });
    this.stats.registered++;
    const beat = this.heartbeats(reg.heartbeatMs);
    while (!this.signal.aborted) {
      const free = this.concurrency - this.jobs.size;
      if (free <= 0) {
        await new Promise((r) => { this.freed = r; });
        continue;
      }
      let jobs;
      try {
        ({ jobs } = await this.rpc('jobs.lease', { max: free, waitMs: reg.maxWaitMs }));
      } catch (err) {
        if (this.signal.aborted) break;
        this.stats.lastError = err.message;
        await sleep(1000, this.signal);
        continue;
      }
      for (const job of jobs) this.start(job);
    }
    for (const j of this.jobs.values()) clearTimeout(j.timer);
    await beat;
  }

  start(job) {
    this.stats.leases++;
    this.stats.leaseTimes.push(Date.now());
    const audit = this.sampler.draw();
    const startedAt = Date.now();
    const timer = setTimeout(() => void this.complete(job, audit, startedAt), audit.ms);
    this.jobs.set(job.leaseId, { timer });
  }

  drop(leaseId) {
    const j = this.jobs.get(leaseId);
    if (!j) return false;
    clearTimeout(j.timer);
    this.jobs.delete(leaseId);
    this.freed?.();
    return true;
  }

  async complete(job, audit, startedAt) {
    const src = job.source;
    const known = this.files.get(src.filename);
    const file = known ?? { filename: src.filename ?? `${src.project}-${src.version}.tar.gz`, name: src.project, version: src.version, kind: src.filename?.endsWith('.whl') ? 'wheel' : 'sdist', sha256: '0'.repeat(64), sizeBytes: 1 };
    try {
      await this.rpc('jobs.complete', { leaseId: job.leaseId, outcome: { kind: 'report', report: simulatedReport(file, audit, startedAt), artifacts: [] } });
      this.stats.completed++;
    } catch (err) {
      if (err instanceof RpcError && err.code === 'PYTI_LEASE_LOST') this.stats.lost++;
      else if (err instanceof RpcError && err.code === 'PYTI_REPORT_REJECTED') this.stats.rejected++;
      else if (!this.signal.aborted) this.stats.lastError = err.message;
    } finally {
      this.drop(job.leaseId);
    }
  }

  async heartbeats(everyMs) {
    while (!this.signal.aborted) {
      await sleep(everyMs, this.signal);
      if (this.signal.aborted || this.jobs.size === 0) continue;
      try {
        const r = await this.rpc('slave.heartbeat', { leases: [...this.jobs.keys()], draining: false }, 2);
        for (const id of r.lost) if (this.drop(id)) this.stats.lost++;
        for (const c of r.commands) if (c.kind === 'cancel' && this.drop(c.leaseId)) this.stats.cancelled++;
      } catch (err) {
        if (!this.signal.aborted) this.stats.lastError = err.message;
      }
    }
  }
}

/**
 * Starts `n` simulated slaves named `<prefix><i>` with tokens from `tokenOf(name)`.
 * @param {{ url: string, n: number, prefix: string, tokenOf: (name: string) => string, concurrency: number,
 *   sampler: { draw(): { ms: number, result: string } }, files: Map<string, object> }} o
 *   `files`: filename → {filename, name, version, kind, sha256, sizeBytes} of every published file.
 * @returns {{ stats: object, stop(): Promise<void>, running: Promise<void[]> }}
 */
export function startFleet(o) {
  const abort = new AbortController();
  setMaxListeners(0, abort.signal); // every slave's long-poll and heartbeat listen to it
  const stats = fleetStats();
  const slaves = Array.from({ length: o.n }, (_, i) => new SimSlave({
    url: o.url, name: `${o.prefix}${i}`, token: o.tokenOf(`${o.prefix}${i}`), concurrency: o.concurrency,
    sampler: o.sampler, files: o.files, stats, signal: abort.signal,
  }));
  const running = Promise.all(slaves.map((s) => s.run().catch((err) => {
    if (!abort.signal.aborted) stats.lastError = `${s.name}: ${err.message}`;
  })));
  return {
    stats,
    running,
    async stop() {
      abort.abort();
      for (const s of slaves) s.freed?.();
      await running;
    },
  };
}
