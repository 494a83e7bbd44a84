/**
 * The libvirt domain of one PyTI job, as XML, and the few pieces of libvirt XML the backend reads
 * back (the DAC label of the daemon's QEMU user, a domain's PyTI metadata).
 *
 * The domain mirrors the QEMU backend's command line: machine `pc` (libvirt cannot define
 * `microvm`), direct kernel boot of the cached kernel and initramfs, the job's overlay (serial
 * `pyti-root`) and read-only input disk (serial `pyti-input`) on virtio-blk, the agent's channel on
 * a virtio-serial port named `org.pyti.agent` backed by a UNIX socket that libvirt creates, the UART
 * (early boot) and the virtio console (hvc0) logged to files through virtlogd (which caps them),
 * and **no `<interface>` at all**: libvirt adds no network device of its own. USB and the balloon
 * are turned off; ACPI stays on, because the guest powers itself off through it.
 */

/** What goes into one job's domain. Paths are on the libvirt host. */
export interface DomainSpec {
  /** Unique per job (`pyti-<hex>`). */
  name: string;
  /** libvirt domain type: `kvm`, or `qemu` for TCG. */
  type: 'kvm' | 'qemu';
  cpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  cmdline: string;
  overlay: string;
  inputDisk: string;
  scratchDisk: string;
  agentSocket: string;
  /** The UART (ttyS0): the kernel's and init's early messages. */
  serialLog: string;
  /** The virtio console (hvc0): init's and the agent's messages once it is up. */
  consoleLog: string;
  /**
   * Run QEMU as this uid:gid without relabelling any file (`<seclabel model='dac' relabel='no'>`);
   * undefined leaves libvirt's default DAC handling.
   */
  runAs?: { uid: number; gid: number };
  /** Written into the domain's metadata so that a later sweep can tell a stale domain. */
  meta: PytiDomainMeta;
  /** More arguments for QEMU's command line (e.g. `-incoming unix:…` for a warm restore). */
  extraQemuArgs?: string[];
}

/** PyTI's metadata on a domain. */
export interface PytiDomainMeta {
  /** The caller's job directory: when it is gone, the job is over. */
  jobDir: string;
  /** The directory holding this domain's disks, sockets and logs (removed with the domain). */
  vmRoot: string;
  /** The staged boot image directory the domain uses, if any. */
  bootDir?: string;
  /** The slave process that started it, and its host. */
  pid: number;
  host: string;
}

export const PYTI_METADATA_NS = 'urn:x-pyti:libvirt-job:1';

/** Escapes text for an XML attribute or element. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function unescapeXml(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!);
}

/**
 * The domain XML of one job. `extraQemuArgs` go on QEMU's command line through
 * `<qemu:commandline>` (libvirt marks such a domain "tainted: custom-argv"; PyTI uses it for the
 * `-incoming` of a warm restore).
 *
 * The virtio devices keep ioeventfd (libvirt's default). It was turned off for a while, for a
 * hostile task that ran to its wall-clock limit and was taken for a guest missing a virtqueue
 * completion (lmb/vimto#29); that was the agent's output-limit bug. Off, every virtio notification
 * is handled in the vCPU thread, and under TCG the sample audit's tasks took 30–50 % more CPU
 * (build 15.8 s against 10.4 s, lint 15.1 s against 10.5 s, measured on 2026-11-23).
 */
export function domainXml(d: DomainSpec): string {
  const e = xmlEscape;
  if (!/^[A-Za-z0-9_.-]+$/.test(d.name)) throw new Error(`bad domain name ${JSON.stringify(d.name)}`);
  const meta = d.meta;
  return `<domain type='${d.type}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${d.name}</name>
  <title>PyTI job</title>
  <metadata>
    <pyti:job xmlns:pyti='${PYTI_METADATA_NS}' jobDir='${e(meta.jobDir)}' vmRoot='${e(meta.vmRoot)}'${meta.bootDir ? ` bootDir='${e(meta.bootDir)}'` : ''} pid='${meta.pid}' host='${e(meta.host)}'/>
  </metadata>
  <memory unit='MiB'>${Math.floor(d.memoryMiB)}</memory>
  <vcpu>${Math.floor(d.cpus)}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${e(d.kernel)}</kernel>
    <initrd>${e(d.initrd)}</initrd>
    <cmdline>${e(d.cmdline)}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='${d.type === 'kvm' ? 'host-passthrough' : 'maximum'}'/>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='unsafe' discard='unmap'/>
      <source file='${e(d.overlay)}'/>
      <target dev='vda' bus='virtio'/>
      <serial>pyti-root</serial>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${e(d.inputDisk)}'/>
      <target dev='vdb' bus='virtio'/>
      <serial>pyti-input</serial>
      <readonly/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' cache='unsafe' discard='unmap'/>
      <source file='${e(d.scratchDisk)}'/>
      <target dev='vdc' bus='virtio'/>
      <serial>pyti-scratch</serial>
    </disk>
    <controller type='usb' model='none'/>
    <controller type='virtio-serial' index='0'/>
    <serial type='null'>
      <log file='${e(d.serialLog)}' append='off'/>
      <target port='0'/>
    </serial>
    <console type='null'>
      <log file='${e(d.consoleLog)}' append='off'/>
      <target type='virtio' port='0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='${e(d.agentSocket)}'/>
      <target type='virtio' name='org.pyti.agent'/>
    </channel>
    <memballoon model='none'/>
  </devices>
${d.runAs ? `  <seclabel type='static' model='dac' relabel='no'>
    <label>+${d.runAs.uid}:+${d.runAs.gid}</label>
  </seclabel>
` : ''}${d.extraQemuArgs?.length ? `  <qemu:commandline>
${d.extraQemuArgs.map((a) => `    <qemu:arg value='${e(a)}'/>\n`).join('')}  </qemu:commandline>
` : ''}</domain>
`;
}

/**
 * The uid:gid libvirt runs QEMU guests as, from `virsh capabilities` (the DAC security model's
 * base label for `qemu` domains, e.g. `+64055:+64055`); undefined when the host reports none.
 */
export function dacBaseLabel(capabilitiesXml: string, type: 'kvm' | 'qemu' = 'qemu'): { uid: number; gid: number } | undefined {
  for (const m of capabilitiesXml.matchAll(/<secmodel>([\s\S]*?)<\/secmodel>/g)) {
    if (!/<model>dac<\/model>/.test(m[1]!)) continue;
    const labels = [...m[1]!.matchAll(/<baselabel type='([^']+)'>\+?(\d+):\+?(\d+)<\/baselabel>/g)];
    const l = labels.find((x) => x[1] === type) ?? labels[0];
    if (l) return { uid: Number(l[2]), gid: Number(l[3]) };
  }
  return undefined;
}

/** PyTI's metadata from a domain's XML (`virsh dumpxml`), or undefined when it has none. */
export function readPytiMeta(xml: string): PytiDomainMeta | undefined {
  const el = /<(?:[A-Za-z0-9_-]+:)?job\s+([^>]*xmlns(?::[A-Za-z0-9_-]+)?=["']urn:x-pyti:libvirt-job:1["'][^>]*)\/?>/.exec(xml);
  if (!el) return undefined;
  const attrs = new Map<string, string>();
  for (const a of el[1]!.matchAll(/([A-Za-z:]+)=(?:'([^']*)'|"([^"]*)")/g)) attrs.set(a[1]!, unescapeXml(a[2] ?? a[3] ?? ''));
  const jobDir = attrs.get('jobDir');
  const vmRoot = attrs.get('vmRoot');
  if (!jobDir || !vmRoot) return undefined;
  return { jobDir, vmRoot, bootDir: attrs.get('bootDir'), pid: Number(attrs.get('pid') ?? 0), host: attrs.get('host') ?? '' };
}
