/**
 * The backend conformance suite: one set of tests every sandbox or VM backend must pass, with real
 * processes in the real guest image. A backend is plugged in with a test file of one call:
 *
 * ```ts
 * await describeBackendConformance('qemu', () => new QemuBackend({ tmpBytes: 256 * 2 ** 20 }), { slowFactor: 10 });
 * ```
 *
 * It runs three sessions on the backend (protocol, hostile, a real audit), each shared by many
 * tests, and skips the whole suite, saying why, when the backend's probe says it cannot run here.
 */
import type { Backend } from '@pyti/slave';
import { auditChecks } from './audit-checks.js';
import { ConformanceSessions, type ConformanceOptions } from './conformance-sessions.js';
import { hostileChecks } from './hostile-checks.js';
import { limitChecks } from './limit-checks.js';
import { networkChecks, sinkholeChecks } from './network-checks.js';
import { protocolChecks } from './protocol-checks.js';
import { rollbackChecks } from './rollback-checks.js';

export type { ConformanceOptions } from './conformance-sessions.js';

/**
 * Declares the conformance suite for the backend `makeBackend` makes (once; every session runs on
 * that one instance). Await it at the top level of a test file: it probes the backend first, and
 * when the probe gives a reason the suite is declared skipped and the reason printed on stderr.
 */
export async function describeBackendConformance(
  label: string, makeBackend: () => Backend | Promise<Backend>, opts: ConformanceOptions = {},
): Promise<void> {
  const backend = await makeBackend();
  const why = await backend.probe();
  if (why) process.stderr.write(`conformance ${label}: SKIPPED, the backend cannot run here: ${why}\n`);
  const sessions = new ConformanceSessions(label, backend, opts);
  (why ? describe.skip : describe)(`backend conformance: ${label}${why ? ` (skipped: ${why})` : ''}`, () => {
    afterAll(() => sessions.cleanup());
    describe('protocol', () => protocolChecks(sessions));
    describe('network isolation', () => networkChecks(sessions));
    describe('the sinkhole network', () => sinkholeChecks(sessions));
    describe('rollback', () => rollbackChecks(sessions));
    describe('limits', () => limitChecks(sessions));
    describe('hostile package code', () => hostileChecks(sessions));
    describe('the real audit', () => auditChecks(sessions));
  });
}
