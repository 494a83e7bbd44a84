/**
 * @pyti/common: what the master and the slaves both use. Neither end imports the other; both import this.
 *
 * - The command protocol: the JSON-RPC method table and its limits, error codes and paths
 *   (command/command-protocol.ts), the git archive's layout and the retry backoff.
 * - The report: its schema (report/audit-report.ts and the shapes it holds: findings, trace summary,
 *   test, lint and coverage summaries, sinkhole records, reach), the judge that sets its verdict,
 *   its HTML and terminal rendering and the HTML escaping everything rendered goes through.
 * - Rescoring: the dynamic rules over strace traces, bait hits and sinkhole records, the trace
 *   parser they read and the static scanner. The master re-runs them on stored raw data
 *   (`pyti rescore`, the rescore store), so they live here, not in the slave.
 * - PyPI naming and index access: project-name and version rules, index URLs, the JSON and simple
 *   APIs, PEP 440 versions and the index client.
 * - Input checks: distribution and archive validation (validateDist, validateTarGz) and core
 *   metadata, which the master runs on uploads and git archives and the slave on what it audits.
 * - Host process helpers (killing a process group).
 *
 * One package, not two (say, "protocol and report" and "analysis"): the report schema is made of the
 * analysis modules' own types (Finding, TraceSummary, TestSummary, ScoreReason) and the verdict is the
 * judge's, which in turn reads the report's types; splitting them would make a cycle or tear every
 * type away from the parser that defines it.
 *
 * What only a slave runs (backends, agent session, audit orchestration, prefetch, the daemon and its
 * command client, sdist builds, bait generation, the sinkhole log's collection) stays in @pyti/slave.
 * This package depends on neither @pyti/slave nor @pyti/master (a test keeps it so).
 */
export * from './command/command-protocol.js';
export * from './command/git-archive.js';
export * from './command/backoff.js';

export * from './report/audit-report.js';
export * from './report/infra-error.js';
export * from './report/observation.js';
export * from './report/apply-judgement.js';
export * from './report/html-escape.js';
export * from './report/render-html.js';
export * from './report/render-terminal.js';
export * from './report/render-tests.js';
export * from './report/render-reach.js';
export * from './report/reach.js';
export * from './report/trace-findings.js';
export * from './report/static-scan.js';
export * from './report/rescore.js';

export * from './findings/finding.js';
export * from './findings/judge.js';
export * from './findings/rules.js';
export * from './findings/index.js';
export * from './findings/windows-shim.js';
export * from './findings/sinkhole-contact.js';
export * from './bait/index.js';
export * from './sinkhole/sinkhole-record.js';
export * from './sinkhole/render-network.js';

export * from './trace/trace-events.js';
export * from './trace/process-tree.js';
export { parseStrace, StraceParser } from './trace/strace-parser.js';
export * from './static/index.js';

export * from './results/junit.js';
export * from './results/test-outcomes.js';
export * from './results/pylint.js';
export * from './results/pycodestyle.js';
export * from './results/coverage.js';
export * from './results/perf-result.js';

export * from './index-client/index-client.js';
export * from './index-client/index-url.js';
export * from './index-client/dist-filename.js';
export * from './index-client/release-json.js';
export * from './index-client/index-http.js';
export * from './index-client/simple-page.js';
export * from './index-client/pep440.js';
export * from './index-client/fetch-policy.js';
export * from './index-client/policy-fetch.js';
export * from './index-client/pinned-transport.js';

export * from './input/validate-dist.js';
export * from './input/core-metadata.js';
export * from './input/dist-limits.js';
export * from './input/member-path.js';
export * from './input/regular-file.js';
export * from './input/tar-reader.js';
export * from './input/link-chains.js';
export * from './input/dist-version.js';
/** Test kit (hand-built hostile tar and zip bytes); used by tests only. */
export * from './input/hostile-archive-kit.js';

export * from './process/host-tools.js';
export * from './trace/trace-owner.js';
export * from './trace/trace-index.js';
export * from './report/render-coverage.js';
export * from './report/render-findings.js';
export * from './report/render-trace.js';

export * from './retention/retention-units.js';
