/**
 * A job directory for starting a backend directly (without an audit): the conformance guest
 * scripts, and any extra files, as the job's input (mounted at `/input` in the guest), an empty
 * wheelhouse, copies of the agent bundle and the task helpers (so that what the guest was given can
 * be compared afterwards, whatever a build does to the originals meanwhile) and the cached guest
 * root filesystem.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureAgentBundle, requireRootfs } from '@pyti/images';
import { tasksDir } from '@pyti/tasks';
import type { SandboxInputs } from '@pyti/slave';

/** The guest-side scripts of the conformance suite (test/fixtures/conformance). */
export const CONFORMANCE_SCRIPTS_DIR = new URL('../../fixtures/conformance/', import.meta.url).pathname.replace(/\/$/, '');

/** A prepared job: what to pass to `backend.start`, and how to remove it afterwards. */
export interface SandboxJob {
  inputs: SandboxInputs;
  remove(): void;
}

/** Makes a job directory whose input holds the conformance scripts plus `extra` (name → content). */
export async function makeSandboxJob(extra: Record<string, string | Buffer> = {}): Promise<SandboxJob> {
  const jobDir = mkdtempSync(join(tmpdir(), 'pyti-conformance-'));
  const inputDir = join(jobDir, 'input');
  const wheelhouse = join(jobDir, 'wheelhouse');
  cpSync(CONFORMANCE_SCRIPTS_DIR, inputDir, { recursive: true });
  mkdirSync(wheelhouse);
  for (const [name, content] of Object.entries(extra)) writeFileSync(join(inputDir, name), content);
  const agentDir = join(jobDir, 'agent');
  const helpers = join(jobDir, 'tasks');
  cpSync(await ensureAgentBundle(), agentDir, { recursive: true });
  cpSync(join(tasksDir(), 'guest'), join(helpers, 'guest'), { recursive: true });
  const inputs: SandboxInputs = { inputDir, wheelhouse, agentDir, tasksDir: helpers, rootfs: requireRootfs().path, jobDir };
  return { inputs, remove: () => rmSync(jobDir, { recursive: true, force: true }) };
}
