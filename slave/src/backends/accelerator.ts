/**
 * Chooses the VM accelerator by probing, not by the presence of /dev/kvm: on some hosts /dev/kvm
 * opens but guests hang at boot (nested KVM). The probe boots the real kernel and initramfs with
 * `pyti.probe` on the command line (the init answers "probe ok" and powers off at once) under KVM,
 * with a short timeout; anything else means TCG. `PYTI_ACCEL=kvm|tcg` overrides the probe.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { BootImageInfo } from '@pyti/images';
import { baseArgs } from './qemu-command.js';

export type Accelerator = 'kvm' | 'tcg';

/** The outcome of a probe: the accelerator and why. */
export interface AcceleratorChoice {
  accel: Accelerator;
  reason: string;
}

let cached: Promise<AcceleratorChoice> | undefined;

/** Boots the probe guest under `accel`; resolves whether it answered within `timeoutMs`. */
export function probeBoot(image: BootImageInfo, accel: Accelerator, timeoutMs: number): Promise<{ ok: boolean; why: string }> {
  return new Promise((resolve) => {
    const args = baseArgs(image, accel, { memoryMiB: 256, cpus: 1 }, ['pyti.probe']);
    const p = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const onData = (d: Buffer): void => {
      out = (out + d.toString()).slice(-4000);
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutMs);
    p.on('error', (e) => resolve({ ok: false, why: e.message }));
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      if (out.includes('probe ok')) resolve({ ok: true, why: `a ${accel.toUpperCase()} guest booted` });
      else if (timedOut) resolve({ ok: false, why: `a ${accel.toUpperCase()} guest did not boot within ${timeoutMs} ms` });
      else resolve({ ok: false, why: `qemu -accel ${accel} ended (${signal ?? `exit ${code}`}): ${out.trim().split('\n').slice(-2).join(' ')}` });
    });
  });
}

/**
 * The accelerator to use on this host (probed once per process). TCG always works, slower.
 */
export function chooseAccelerator(image: BootImageInfo, env: NodeJS.ProcessEnv = process.env): Promise<AcceleratorChoice> {
  const forced = env.PYTI_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return Promise.resolve({ accel: forced, reason: 'PYTI_ACCEL' });
  cached ??= (async (): Promise<AcceleratorChoice> => {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return { accel: 'tcg', reason: '/dev/kvm is not usable' };
    }
    const r = await probeBoot(image, 'kvm', 8000);
    return r.ok ? { accel: 'kvm', reason: r.why } : { accel: 'tcg', reason: r.why };
  })();
  return cached;
}
