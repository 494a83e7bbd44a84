// How long a simulated slave takes per audit: drawn from real, measured audits.
//
// Source: `node bench/corpus.mjs` on 2026-12-07 (bwrap backend, the project's 2-core machine, other
// work running; README "The real-world corpus"): the 28 real PyPI releases of test/corpus/corpus.json
// audited in full (inspect, build under strace, install, import, execute, tests, coverage, lint), each
// report's `timings.totalMs` and `result` as stored in <corpus>/bench-work/<member>/pyti/report.json.
// Median 16.0 s, p95 32 s, range 12.5–33.5 s. A draw picks one measured audit at random (bootstrap)
// and jitters its time by ±10 %, so that hundreds of slaves do not finish in lockstep.

/** [member, totalMs, result] of each measured audit. */
export const MEASURED_AUDITS = Object.freeze([
  ['MarkupSafe-2.1.2', 16204, 'pass'], ['PyYAML-6.0.1', 24107, 'test-fail'], ['attrs-22.2.0', 14002, 'test-fail:deps'],
  ['cachetools-5.3.1', 15229, 'pass'], ['cytoolz-0.12.0', 33538, 'pass'], ['docopt-0.6.2', 15231, 'no-tests'],
  ['editables-0.3', 16303, 'test-fail:deps'], ['idna-3.4', 12470, 'pass'], ['iniconfig-2.0.0', 15397, 'no-tests'],
  ['marko-2.0.0', 14921, 'test-fail'], ['marshmallow-3.19.0', 15662, 'pass'], ['more-itertools-9.1.0', 15725, 'pass'],
  ['msgpack-1.0.3', 17079, 'pass'], ['multidict-6.0.4', 18985, 'pass'], ['packaging-23.1', 32263, 'pass'],
  ['pretend-1.0.9', 15646, 'no-tests'], ['pyrsistent-0.19.3', 28324, 'pass'], ['python-dateutil-2.8.2', 18522, 'test-fail:deps'],
  ['simplejson-3.19.1', 14771, 'pass'], ['six-1.17.0', 17380, 'pass'], ['sortedcontainers-2.4.0', 14882, 'no-tests'],
  ['toml-0.10.2', 14940, 'test-fail:deps'], ['tomli-2.0.1', 14455, 'pass'], ['tomlkit-0.11.8', 12774, 'test-fail'],
  ['toolz-0.12.0', 16257, 'pass'], ['wrapt-1.15.0', 17575, 'pass'], ['xmltodict-0.13.0', 17006, 'pass'],
  ['yarl-1.8.2', 21307, 'test-fail'],
]);

/** Where the distribution comes from, for the bench's header. */
export const AUDIT_TIMES_SOURCE = 'bench/corpus.mjs 2026-12-07: 28 real releases audited on bwrap, 2 cores';

/**
 * A sampler of audits: `draw()` returns `{ ms, result }`, `ms` the measured time × `scale` × (0.9..1.1).
 * `random` is a function returning [0, 1) (seeded by the caller for reproducible runs).
 */
export function auditSampler(random, scale = 1) {
  return {
    draw() {
      const [, ms, result] = MEASURED_AUDITS[Math.floor(random() * MEASURED_AUDITS.length)];
      return { ms: Math.max(1, Math.round(ms * scale * (0.9 + 0.2 * random()))), result };
    },
  };
}

/** p-quantile (0..1) of a list of numbers (nearest rank); null when empty. */
export function quantile(values, p) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}
