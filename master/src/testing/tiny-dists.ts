/**
 * Tiny, valid distributions built in memory for tests and benchmarks (no Python needed): a wheel
 * (a stored zip with `*.dist-info/METADATA`) and a minimal AuditReport-shaped object.
 */
import { createHash } from 'node:crypto';
import { zipOf } from './zip-kit.js';

/** A zip archive of `files` (stored, not compressed). */
export function zipStored(files: Record<string, string | Buffer>): Buffer {
  return zipOf(Object.entries(files).map(([name, data]) => ({ name, data })));
}

/** A minimal pure wheel of `name==version`; its file name is `${name}-${version}-py3-none-any.whl`. */
export function tinyWheel(name: string, version: string): { filename: string; bytes: Buffer } {
  const di = `${name}-${version}.dist-info`;
  const files: Record<string, string> = {
    [`${name}/__init__.py`]: 'VALUE = 1\n',
    [`${di}/METADATA`]: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: a test wheel\n`,
    [`${di}/WHEEL`]: 'Wheel-Version: 1.0\nGenerator: pyti-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
  };
  // An honest RECORD (sha256, size of every file), so an audit of the wheel has no record-mismatch finding.
  const rows = Object.entries(files).map(([path, data]) => `${path},sha256=${createHash('sha256').update(data).digest('base64url')},${Buffer.byteLength(data)}`);
  return {
    filename: `${name}-${version}-py3-none-any.whl`,
    bytes: zipStored({ ...files, [`${di}/RECORD`]: `${[...rows, `${di}/RECORD,,`].join('\n')}\n` }),
  };
}

/** Findings that make the master's judge give each verdict (it recomputes verdicts from findings). */
const FINDINGS_FOR: Record<string, unknown[]> = {
  malicious: [{ rule: 'sensitive-write', severity: 'critical', title: 'install writes ~/.ssh/authorized_keys', phase: 'install', evidence: [] }],
  suspicious: [{ rule: 'dns-lookup', severity: 'high', title: 'DNS lookup', detail: 'x', phase: 'install', evidence: [] }],
  flagged: [{ rule: 'dns-lookup', severity: 'high', title: 'DNS lookup', detail: 'x', phase: 'install', evidence: [] }],
};

/**
 * An object shaped like the slave's AuditReport, enough for storing and rendering. Its findings and
 * default result are ones the master's judge gives `verdict` for (`failed`: a build failure).
 */
export function tinyReport(
  name: string, version: string, verdict: 'malicious' | 'suspicious' | 'clean' | 'flagged' | 'failed' | 'error' = 'clean',
  result = verdict === 'failed' ? 'build-fail' : verdict === 'error' ? 'error:sandbox' : 'pass',
): Record<string, unknown> {
  return {
    schemaVersion: 1,
    tool: { name: 'pyti', version: '0.1.0' },
    distribution: { filename: `${name}-${version}.tar.gz`, name, version, kind: 'sdist', sha256: '0'.repeat(64), sizeBytes: 1, requiresDist: [] },
    backend: { name: 'bwrap', isolation: 'namespaces', network: 'none' },
    result,
    verdict,
    tasks: [],
    traces: {},
    findings: FINDINGS_FOR[verdict] ?? [],
    timings: { startedAt: new Date(0).toISOString(), totalMs: 1 },
    rawFiles: ['raw/install/strace.log'],
  };
}
