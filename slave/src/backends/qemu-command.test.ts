import type { BootImageInfo } from '@pyti/images';
import { kernelCmdline, qemuArgs, scratchDiskBytes } from './qemu-command.js';

const image = { kernel: '/c/vmlinux', initrd: '/c/initrd.cpio', rootDisk: '/c/root.qcow2' } as BootImageInfo;
const files = { dir: '/j/vm', overlay: '/j/vm/overlay.qcow2', inputDisk: '/j/vm/input.ext4', scratchDisk: '/j/vm/scratch.ext4', agentSocket: '/j/vm/agent.sock', consoleLog: '/j/vm/console.log' };
const pairs = (a: string[]): string[] => a.flatMap((x, i) => (x.startsWith('-') ? [`${x} ${a[i + 1] ?? ''}`] : []));

describe('QEMU command line', () => {
  it('sizes the scratch disk for /work, /tmp and the home together', () => {
    expect(scratchDiskBytes({})).toBe(6 * 1024 ** 3);
    expect(scratchDiskBytes({ tmpBytes: 1, workBytes: 10 })).toBe(12);
  });

  it('has no network device at all', () => {
    const a = qemuArgs(image, files, 'tcg');
    expect(pairs(a)).toContain('-nic none');
    expect(a).toContain('-nodefaults'); // no default devices (no default NIC)
    expect(a.join(' ')).not.toMatch(/netdev|virtio-net|e1000|-net |user,|tap/);
  });

  it('boots the cached kernel over the job overlay, input read-only, agent on a named virtio-serial port', () => {
    const a = qemuArgs(image, files, 'tcg', { cpus: 2, memoryMiB: 2048 }).join(' ');
    expect(a).toContain('-accel tcg -M microvm -cpu max -smp 2 -m 2048');
    expect(a).toContain('-kernel /c/vmlinux -initrd /c/initrd.cpio');
    expect(a).toContain('file=/j/vm/overlay.qcow2,format=qcow2');
    expect(a).toContain('virtio-blk-device,drive=root,serial=pyti-root');
    expect(a).toContain('file=/j/vm/input.ext4,format=raw,if=none,id=input,readonly=on');
    expect(a).toContain('file=/j/vm/scratch.ext4,format=raw,if=none,id=scratch,cache=unsafe');
    expect(a).toContain('virtio-blk-device,drive=scratch,serial=pyti-scratch');
    expect(a).not.toMatch(/id=scratch,[^ ]*readonly/);
    expect(a).toContain('socket,path=/j/vm/agent.sock,server=on,wait=off');
    expect(a).toContain('virtserialport,chardev=agent,name=org.pyti.agent');
    expect(a).toContain('-sandbox on,');
    expect(a).not.toContain(image.rootDisk); // the cached disk is only ever a backing file
  });

  it('uses virtio-pci devices and the TSC clocksource on -M pc, host CPU with KVM', () => {
    const a = qemuArgs(image, files, 'kvm', { machine: 'pc' }).join(' ');
    expect(a).toContain('-accel kvm -M pc -cpu host');
    expect(a).toContain('virtio-blk-pci,drive=root');
    expect(a).toContain('virtio-serial-pci');
    // Also on pc (libvirt's), else the guest takes the HPET as clocksource: an emulated device read per clock read.
    expect(kernelCmdline({ machine: 'pc' })).toMatch(/tsc_early_khz=\d+ tsc=reliable/);
    expect(kernelCmdline({})).toMatch(/tsc_early_khz=\d+ tsc=reliable/);
    expect(kernelCmdline({ tmpBytes: 5, workBytes: 7 })).toContain('pyti.tmp=5 pyti.work=7');
  });
});
