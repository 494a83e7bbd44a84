/**
 * The QEMU command line of a PyTI guest: direct kernel boot of the cached image, **no network
 * device at all** (`-nic none -nodefaults`), the job's overlay as root disk and its input disk
 * read-only (found by the guest through their virtio serial numbers), the agent's channel on a
 * virtio-serial port named `org.pyti.agent` backed by a UNIX socket, the console on stdout, and
 * QEMU's seccomp sandbox on.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { BootImageInfo } from '@pyti/images';
import type { VmJobFiles } from './vm-disks.js';

/** VM settings, with safe defaults. */
export interface VmOptions {
  /** vCPUs (default: 2, or 1 on a one-CPU host). */
  cpus?: number;
  /** Guest memory in MiB (default 1536). */
  memoryMiB?: number;
  /**
   * Room for the guest's /tmp and home (default 1 GiB each) and /work (default 4 GiB): together the
   * size of the job's scratch disk, which the three share.
   */
  tmpBytes?: number;
  workBytes?: number;
  /** `microvm` (default, fastest) or `pc` (what libvirt can define). */
  machine?: 'microvm' | 'pc';
}

/** The host CPU's frequency in kHz, which `-M microvm` guests need on the kernel command line. */
export function hostTscKhz(): number {
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return Math.round(Number(m[1]) * 1000);
  } catch {
    /* not Linux: fall through */
  }
  return 2_000_000;
}

/** The scratch disk's size: room for /work, /tmp and the home directory. */
export function scratchDiskBytes(opts: VmOptions): number {
  return (opts.workBytes ?? 4 * 1024 ** 3) + 2 * (opts.tmpBytes ?? 1024 ** 3);
}

/** The guest kernel's command line. */
export function kernelCmdline(opts: VmOptions, extra: string[] = []): string {
  // ttyS0 carries the early boot; once the virtio console (hvc0) is up, it is the console.
  const a = ['console=ttyS0', 'console=hvc0', 'panic=-1', 'quiet', 'loglevel=3', 'rootwait'];
  // The TSC as clocksource on every machine type: microvm guests hang without it, and a `pc` guest
  // (libvirt's) otherwise picks the HPET, whose every read is an emulated MMIO access (slow under TCG).
  a.push(`tsc_early_khz=${hostTscKhz()}`, 'tsc=reliable');
  a.push(`pyti.tmp=${opts.tmpBytes ?? 1024 ** 3}`, `pyti.work=${opts.workBytes ?? 4 * 1024 ** 3}`, ...extra);
  return a.join(' ');
}

/** Device names for the machine type: virtio-mmio on microvm, virtio-pci on pc. */
function dev(machine: 'microvm' | 'pc', kind: 'blk' | 'serial'): string {
  const bus = machine === 'microvm' ? 'device' : 'pci';
  return kind === 'blk' ? `virtio-blk-${bus}` : `virtio-serial-${bus}`;
}

/** Everything before the disks: machine, accelerator, CPU, memory, no NIC, no display, console. */
export function baseArgs(image: BootImageInfo, accel: 'kvm' | 'tcg', opts: VmOptions, cmdlineExtra: string[] = []): string[] {
  const machine = opts.machine ?? 'microvm';
  return [
    '-accel', accel, '-M', machine, '-cpu', accel === 'kvm' ? 'host' : 'max',
    '-smp', String(opts.cpus ?? Math.min(2, cpus().length)), '-m', String(opts.memoryMiB ?? 1536),
    '-nic', 'none', '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none',
    '-serial', 'stdio', '-no-reboot',
    '-sandbox', 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny',
    '-kernel', image.kernel, '-initrd', image.initrd, '-append', kernelCmdline(opts, cmdlineExtra),
  ];
}

/** The full QEMU argv (without the binary) for one job. */
export function qemuArgs(image: BootImageInfo, files: VmJobFiles, accel: 'kvm' | 'tcg', opts: VmOptions = {}): string[] {
  const machine = opts.machine ?? 'microvm';
  return [
    ...baseArgs(image, accel, opts),
    '-drive', `file=${files.overlay},format=qcow2,if=none,id=root,cache=unsafe,discard=unmap`,
    '-device', `${dev(machine, 'blk')},drive=root,serial=pyti-root`,
    '-drive', `file=${files.inputDisk},format=raw,if=none,id=input,readonly=on`,
    '-device', `${dev(machine, 'blk')},drive=input,serial=pyti-input`,
    '-drive', `file=${files.scratchDisk},format=raw,if=none,id=scratch,cache=unsafe,discard=unmap`,
    '-device', `${dev(machine, 'blk')},drive=scratch,serial=pyti-scratch`,
    '-device', dev(machine, 'serial'),
    '-chardev', `file,path=${files.consoleLog},id=hvc`,
    '-device', 'virtconsole,chardev=hvc,name=org.pyti.console',
    '-chardev', `socket,path=${files.agentSocket},server=on,wait=off,id=agent`,
    '-device', 'virtserialport,chardev=agent,name=org.pyti.agent',
  ];
}
