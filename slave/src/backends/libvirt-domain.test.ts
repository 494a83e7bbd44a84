import { dacBaseLabel, domainXml, readPytiMeta, type DomainSpec } from './libvirt-domain.js';
import { isLocalUri } from './libvirtd.js';

const spec: DomainSpec = {
  name: 'pyti-0123456789ab', type: 'qemu', cpus: 2, memoryMiB: 1536,
  kernel: '/s/boot/vmlinux', initrd: '/s/boot/initrd.cpio', cmdline: 'console=ttyS0 pyti.tmp=1 a<b',
  overlay: '/s/jobs/j/vm/overlay.qcow2', inputDisk: '/s/jobs/j/vm/input.ext4', scratchDisk: '/s/jobs/j/vm/scratch.ext4', agentSocket: '/s/jobs/j/vm/agent.sock',
  serialLog: '/s/jobs/j/vm/serial.log', consoleLog: '/s/jobs/j/vm/console.log',
  runAs: { uid: 64055, gid: 108 },
  meta: { jobDir: "/tmp/pyti-job-'x'&y", vmRoot: '/s/jobs/j', bootDir: '/s/boot', pid: 42, host: 'h' },
};

describe('libvirt domain XML', () => {
  const xml = domainXml(spec);

  it('has no network interface, and no device that is not asked for', () => {
    expect(xml).not.toMatch(/<interface/);
    expect(xml).toContain("<controller type='usb' model='none'/>");
    expect(xml).toContain("<memballoon model='none'/>");
    expect(xml).not.toMatch(/<graphics|<video|<sound/);
  });

  it('keeps ioeventfd, and passes QEMU arguments only when asked, escaped', () => {
    expect(xml).not.toMatch(/ioeventfd/);
    expect(xml).not.toMatch(/<qemu:commandline>/);
    const restore = domainXml({ ...spec, extraQemuArgs: ['-incoming', "unix:/s/jobs/j/in'x.sock"] });
    expect(restore).toContain("  <qemu:commandline>\n    <qemu:arg value='-incoming'/>\n    <qemu:arg value='unix:/s/jobs/j/in&apos;x.sock'/>\n  </qemu:commandline>\n</domain>");
  });

  it('boots the kernel directly on machine pc, with TCG as domain type qemu', () => {
    expect(xml).toMatch(/^<domain type='qemu' xmlns:qemu='http:\/\/libvirt.org\/schemas\/domain\/qemu\/1.0'>/);
    expect(xml).toContain("<type arch='x86_64' machine='pc'>hvm</type>");
    expect(xml).toContain('<kernel>/s/boot/vmlinux</kernel>');
    expect(xml).toContain('<cmdline>console=ttyS0 pyti.tmp=1 a&lt;b</cmdline>');
    expect(xml).toContain("<cpu mode='maximum'/>");
    expect(domainXml({ ...spec, type: 'kvm' })).toContain("<cpu mode='host-passthrough'/>");
    expect(xml).toContain('<vcpu>2</vcpu>');
    expect(xml).toContain("<memory unit='MiB'>1536</memory>");
    expect(xml).toContain('<acpi/>'); // the guest powers off through ACPI
  });

  it('has the root, input and scratch disks by serial, the input read-only, and the agent channel', () => {
    expect(xml).toMatch(/<source file='\/s\/jobs\/j\/vm\/overlay.qcow2'\/>\s*<target dev='vda' bus='virtio'\/>\s*<serial>pyti-root<\/serial>/);
    expect(xml).toMatch(/<serial>pyti-input<\/serial>\s*<readonly\/>/);
    expect(xml).toMatch(/<driver name='qemu' type='raw' cache='unsafe' discard='unmap'\/>\s*<source file='\/s\/jobs\/j\/vm\/scratch.ext4'\/>\s*<target dev='vdc' bus='virtio'\/>\s*<serial>pyti-scratch<\/serial>\s*<\/disk>/);
    expect(xml).toMatch(/<channel type='unix'>\s*<source mode='bind' path='\/s\/jobs\/j\/vm\/agent.sock'\/>\s*<target type='virtio' name='org.pyti.agent'\/>/);
    expect(xml).toMatch(/<serial type='null'>\s*<log file='\/s\/jobs\/j\/vm\/serial.log' append='off'\/>/);
    expect(xml).toMatch(/<console type='null'>\s*<log file='\/s\/jobs\/j\/vm\/console.log' append='off'\/>\s*<target type='virtio' port='0'\/>/);
  });

  it('runs QEMU as the given user without relabelling, or leaves DAC to libvirt', () => {
    expect(xml).toMatch(/<seclabel type='static' model='dac' relabel='no'>\s*<label>\+64055:\+108<\/label>/);
    expect(domainXml({ ...spec, runAs: undefined })).not.toContain('<seclabel');
  });

  it('refuses a domain name that is not a plain word', () => {
    expect(() => domainXml({ ...spec, name: "x'><evil/>" })).toThrow(/bad domain name/);
  });

  it('round-trips its metadata, as written and as libvirt rewrites it', () => {
    expect(readPytiMeta(xml)).toEqual(spec.meta);
    const rewritten = `<metadata>\n    <pyti:job xmlns:pyti="urn:x-pyti:libvirt-job:1" jobDir="/tmp/pyti-job-&apos;x&apos;&amp;y" vmRoot="/s/jobs/j" pid="42" host="h"/>\n  </metadata>`;
    expect(readPytiMeta(rewritten)).toEqual({ ...spec.meta, bootDir: undefined });
    expect(readPytiMeta('<domain><metadata><other:job xmlns:other="urn:x-else" jobDir="/x" vmRoot="/y"/></metadata></domain>')).toBeUndefined();
  });
});

describe('libvirt host facts', () => {
  it('reads the DAC base label from virsh capabilities', () => {
    const caps = `<capabilities><host><secmodel><model>none</model><doi>0</doi></secmodel>
      <secmodel><model>dac</model><doi>0</doi><baselabel type='kvm'>+999:+995</baselabel><baselabel type='qemu'>+998:+994</baselabel></secmodel></host></capabilities>`;
    expect(dacBaseLabel(caps)).toEqual({ uid: 998, gid: 994 });
    expect(dacBaseLabel(caps, 'kvm')).toEqual({ uid: 999, gid: 995 });
    expect(dacBaseLabel('<capabilities/>')).toBeUndefined();
  });

  it('tells local URIs from remote ones', () => {
    expect(isLocalUri('qemu:///system')).toBe(true);
    expect(isLocalUri('qemu+unix:///system?socket=/run/x')).toBe(true);
    expect(isLocalUri('qemu+ssh://root@localhost/system')).toBe(true);
    expect(isLocalUri('qemu+ssh://build-7.example/system')).toBe(false);
    expect(isLocalUri('qemu+tcp://10.0.0.2:16509/system')).toBe(false);
    expect(isLocalUri('not a uri')).toBe(false);
  });
});
