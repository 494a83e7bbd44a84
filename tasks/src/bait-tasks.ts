/**
 * The bait tasks of an audit: `bait` plants the audit's canary credentials in the home before the
 * build, `bait-check` looks for the canaries in files written during the audit after the package's
 * code has run. The traced tasks also get the AWS canary pair in their environment.
 */
import type { TaskSpec } from '@pyti/vm-agent';
import { DEFAULT_LIMITS } from './audit-tasks.js';

/** The bait as the plan needs it (generated on the host, fresh per audit; see slave/src/bait). */
export interface PlanBait {
  /** Files to plant: `~/…` or absolute guest paths, content base64. */
  files: { path: string; contentBase64: string }[];
  /** Canaries bait-check searches for. */
  canaries: { id: string; value: string }[];
  /** Environment of the traced tasks. */
  env?: Record<string, string>;
}

/** Tasks that run the package's code under strace: they get the bait environment. */
const TRACED = new Set(['build', 'install', 'import', 'execute']);
/** Tasks bait-check should follow (it shares their lock and comes after them in plan order). */
const PACKAGE_HOME = 'package-home';

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64');

/** `tasks` with the bait planted first and checked last. */
export function withBait(tasks: TaskSpec[], bait: PlanBait): TaskSpec[] {
  const helper = (name: string): string => `{tasks}/guest/${name}`;
  const plant: TaskSpec = {
    id: 'bait', title: 'Plant canary credentials in the home', dependsOn: [], needs: [], produces: [], failurePolicy: 'warn',
    limits: { ...DEFAULT_LIMITS, wallSeconds: 60, noOutputSeconds: 60 },
    command: ['python3', helper('plant_bait.py'), '{raw}', b64(bait.files)],
  };
  const out = tasks.map((t) => ({
    ...t,
    ...(t.id === 'build' ? { dependsOn: [...t.dependsOn, 'bait'] } : {}),
    ...(TRACED.has(t.id) && bait.env ? { env: { ...t.env, ...bait.env } } : {}),
  }));
  const withPlant = [plant, ...out];
  if (!tasks.some((t) => t.produces.includes('venv'))) return withPlant;
  const check: TaskSpec = {
    id: 'bait-check', title: 'Look for the canaries in files written during the audit', dependsOn: [], needs: ['venv'], produces: [],
    failurePolicy: 'warn', locks: [PACKAGE_HOME], limits: { ...DEFAULT_LIMITS, wallSeconds: 120, noOutputSeconds: 120 },
    command: ['python3', helper('bait_check.py'), '{raw}', b64({
      canaries: bait.canaries,
      planted: bait.files.map((f) => f.path),
      roots: ['{home}', '{tmp}', '/work'],
      exclude: ['/work/raw', '/work/data/venv', '/work/data/coverage-data'],
    })],
  };
  return [...withPlant, check];
}
