// GET /metrics on a real master (socket): the output parses as Prometheus' text format, and its values
// follow real queue operations (submit, lease, complete, infrastructure retry, time passing).
import { ManualClock } from '../queue/clock.js';
import { KIT_CAPS, MasterKit } from '../testing/master-socket-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';
import { renderPrometheus } from './prometheus-text.js';

interface Scrape {
  /** `name{a="x",b="y"}` (labels sorted) → value. */
  values: Map<string, number>;
  types: Map<string, string>;
}

/** A strict parser of the text format: every line a HELP, a TYPE or a sample of a family already typed. */
function parse(text: string): Scrape {
  expect(text.endsWith('\n')).toBe(true);
  const values = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/.exec(line);
    if (help) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram)$/.exec(line);
    if (type) {
      expect(types.has(type[1]!)).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (-?[0-9.e+]+|\+Inf|NaN)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const family = m[1]!.replace(/_(bucket|sum|count)$/, (s) => (types.get(m[1]!.slice(0, -s.length)) === 'histogram' ? '' : s));
    if (!types.has(family)) throw new Error(`sample of an untyped family: ${line}`);
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => `${l[1]}="${l[2]}"`).sort();
    const key = `${m[1]}${labels.length ? `{${labels.join(',')}}` : ''}`;
    expect(values.has(key)).toBe(false);
    values.set(key, m[3] === '+Inf' ? Infinity : Number(m[3]));
  }
  return { values, types };
}

describe('GET /metrics', () => {
  let k: MasterKit;
  afterEach(async () => k?.close());

  const scrape = async (): Promise<Scrape> => {
    const r = await k.request('GET', '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return parse(r.body);
  };
  const v = (s: Scrape, key: string) => s.values.get(key);

  it('follows queue depth, leases, verdicts per hour, the latency histogram, retries and per-slave load', async () => {
    const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
    k = await MasterKit.start({ leaseMs: 3_600_000 }, { clock });
    expect((await k.request('GET', '/metrics', { token: null })).status).toBe(401);
    await k.register('s1');
    await k.register('s2', 'h2', { ...KIT_CAPS, concurrency: 5 });
    for (const p of ['m-a', 'm-b', 'm-c', 'm-d']) expect((await k.request('POST', '/api/v1/audits', { body: { project: p, version: '1.0' } })).status).toBe(202);

    const empty = await scrape();
    expect(empty.types.get('pyti_upload_to_verdict_seconds')).toBe('histogram');
    expect(empty.types.get('pyti_audits_finished_total')).toBe('counter');
    expect(v(empty, 'pyti_jobs{state="queued"}')).toBe(4);
    expect(v(empty, 'pyti_jobs{state="running"}')).toBe(0);
    expect(v(empty, 'pyti_leases_active')).toBe(0);
    expect(v(empty, 'pyti_upload_to_verdict_seconds_count')).toBe(0);
    expect(v(empty, 'pyti_slave_capacity{slave="s1"}')).toBe(2);
    expect(v(empty, 'pyti_slave_capacity{slave="s2"}')).toBe(5);
    expect(v(empty, 'pyti_slave_up{slave="s1"}')).toBe(1);

    const jobs = await k.lease('s1', 2);
    const [third] = await k.lease('s2', 1);
    const leased = await scrape();
    expect(v(leased, 'pyti_jobs{state="queued"}')).toBe(1);
    expect(v(leased, 'pyti_jobs{state="running"}')).toBe(3);
    expect(v(leased, 'pyti_leases_active')).toBe(3);
    expect(v(leased, 'pyti_slave_active_leases{slave="s1"}')).toBe(2);
    expect(v(leased, 'pyti_slave_active_leases{slave="s2"}')).toBe(1);

    // 90 s later one is clean, one malicious; s2's ends on its infrastructure and goes back to the queue.
    clock.advance(90_000);
    const done = (job: { leaseId: string }, slave: 's1' | 's2', report: unknown) =>
      k.rpc(slave, 'jobs.complete', { leaseId: job.leaseId, outcome: { kind: 'report', report, artifacts: [] } });
    await done(jobs[0]!, 's1', tinyReport('m_a', '1.0', 'clean'));
    clock.advance(400_000); // 490 s after submission
    await done(jobs[1]!, 's1', tinyReport('m_b', '1.0', 'malicious'));
    await done(third!, 's2', tinyReport('m_c', '1.0', 'error', 'error:boot-timeout'));
    const after = await scrape();
    expect(v(after, 'pyti_jobs{state="done"}')).toBe(2);
    expect(v(after, 'pyti_jobs{state="queued"}')).toBe(2);
    expect(v(after, 'pyti_leases_active')).toBe(0);
    expect(v(after, 'pyti_audits_last_hour{verdict="clean"}')).toBe(1);
    expect(v(after, 'pyti_audits_last_hour{verdict="malicious"}')).toBe(1);
    expect(v(after, 'pyti_audits_finished_total{verdict="malicious"}')).toBe(1);
    expect(v(after, 'pyti_infra_retries_total')).toBe(1);
    expect(v(after, 'pyti_slave_audits_last_hour{slave="s1"}')).toBe(2);
    expect(v(after, 'pyti_slave_audits_last_hour{slave="s2"}')).toBe(0);
    // Latencies 90 s and 490 s: cumulative buckets.
    expect(v(after, 'pyti_upload_to_verdict_seconds_bucket{le="60"}')).toBe(0);
    expect(v(after, 'pyti_upload_to_verdict_seconds_bucket{le="120"}')).toBe(1);
    expect(v(after, 'pyti_upload_to_verdict_seconds_bucket{le="300"}')).toBe(1);
    expect(v(after, 'pyti_upload_to_verdict_seconds_bucket{le="600"}')).toBe(2);
    expect(v(after, 'pyti_upload_to_verdict_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(v(after, 'pyti_upload_to_verdict_seconds_count')).toBe(2);
    expect(v(after, 'pyti_upload_to_verdict_seconds_sum')).toBe(580);

    // Three hours on: nothing in the last hour, the totals stay; a drain shows; silent slaves are down.
    clock.advance(3 * 3_600_000); // past two lease times (1 h each) too
    await k.request('POST', '/api/v1/slaves/s2/drain');
    const later = await scrape();
    expect(v(later, 'pyti_audits_last_hour{verdict="clean"}')).toBeUndefined();
    expect(v(later, 'pyti_audits_finished_total{verdict="clean"}')).toBe(1);
    expect(v(later, 'pyti_slave_draining{slave="s2"}')).toBe(1);
    expect(v(later, 'pyti_slave_draining{slave="s1"}')).toBe(0);
    expect(v(later, 'pyti_slave_up{slave="s1"}')).toBe(0);
  });

  it('escapes label values and help text', () => {
    const text = renderPrometheus([{ name: 'x_total', help: 'a \\ b\nc', type: 'counter', samples: [{ labels: { slave: 'q"\\\nz' }, value: 3 }] }]);
    expect(text).toBe('# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{slave="q\\"\\\\\\nz"} 3\n');
    expect(parse(text).values.get('x_total{slave="q\\"\\\\\\nz"}')).toBe(3);
  });
});
