/**
 * Chooses the VM accelerator by probing, not by the presence of /dev/kvm: on some hosts /dev/kvm
 * opens but guests hang at boot (nested KVM). The probe boots the real kernel and initramfs with
 * `pyti.probe` on the command line (the init answers "probe ok" and powers off at once) under KVM,
 * with a short timeout; anything else means TCG. `PYTI_ACCEL=kvm|tcg` overrides the probe.
 */
import { accessSync, constants } from 'node:fs';
import type { BootImageInfo } from '@pyti/images';
import { baseArgs } from './qemu-command.js';
import { startQemu } from './vm-process.js';

export type Accelerator = 'kvm' | 'tcg';

/** The outcome of a probe: the accelerator and why. */
export interface AcceleratorChoice {
  accel: Accelerator;
  reason: string;
}

let cached: Promise<AcceleratorChoice> | undefined;

/** Boots the probe guest under `accel`; resolves whether it answered within `timeoutMs`. */
export async function probeBoot(image: BootImageInfo, accel: Accelerator, timeoutMs: number): Promise<{ ok: boolean; why: string }> {
  const vm = startQemu(baseArgs(image, accel, { memoryMiB: 256, cpus: 1 }, ['pyti.probe']));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    vm.kill();
  }, timeoutMs);
  const { code, signal } = await vm.exited;
  clearTimeout(timer);
  const out = vm.log.toString();
  if (out.includes('probe ok')) return { ok: true, why: `a ${accel.toUpperCase()} guest booted` };
  if (timedOut) return { ok: false, why: `a ${accel.toUpperCase()} guest did not boot within ${timeoutMs} ms` };
  return { ok: false, why: `qemu -accel ${accel} ended (${signal ?? `exit ${code}`}): ${out.trim().split('\n').slice(-2).join(' ')}` };
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
