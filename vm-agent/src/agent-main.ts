/**
 * Entry point of the bundled agent (`agent.mjs` in the guest). The channel is stdin/stdout, or the
 * character device named by `--port` (a virtio-serial port in a VM). Logs go to stderr.
 */
import { createReadStream, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { DEFAULT_LAYOUT, serveAgent } from './agent.js';
import { StreamMessageReader, StreamMessageWriter } from './transport.js';

const portIdx = process.argv.indexOf('--port');
let reader: StreamMessageReader;
let writer: StreamMessageWriter;
let portStream: WriteStream | undefined;
if (portIdx !== -1 && process.argv[portIdx + 1]) {
  const fd = openSync(process.argv[portIdx + 1]!, 'r+');
  portStream = createWriteStream('', { fd, autoClose: false });
  reader = new StreamMessageReader(createReadStream('', { fd, autoClose: false }));
  writer = new StreamMessageWriter(portStream);
} else {
  reader = new StreamMessageReader(process.stdin);
  writer = new StreamMessageWriter(process.stdout);
}

/**
 * Ends the agent. On a port, a read of the device is always pending in libuv's thread pool, and
 * process.exit() would wait for that thread forever (it joins the pool); so once everything written
 * has reached the device, the agent kills itself. The host has its answers by then: `shutdown` was
 * answered after everything else.
 */
function end(code: number): void {
  if (!portStream) process.exit(code);
  const die = (): void => {
    process.kill(process.pid, 'SIGKILL');
  };
  if (portStream.writableFinished) die();
  else {
    portStream.once('finish', die);
    setTimeout(die, 2000).unref();
  }
}

// The task slots' first uid: `self` (tests: tasks run as the agent), a number (a process sandbox's
// own range on a shared host kernel, slave/src/backends/uid-range.ts), else the image's (VMs).
const uidArg = process.env.PYTI_AGENT_UID_BASE;
const uidBase = uidArg === 'self' ? undefined : uidArg && /^[1-9]\d{3,9}$/.test(uidArg) ? Number(uidArg) : DEFAULT_LAYOUT.uidBase;
const layout = { ...DEFAULT_LAYOUT, uidBase };
const vm = process.env.PYTI_GUEST === 'vm' ? { attachScript: process.env.PYTI_ATTACH || undefined } : undefined;
// `off`: the guest shares the host's network (the chroot baseline): its routes and rules must not touch it.
const sinkhole = layout.uidBase !== undefined && process.env.PYTI_AGENT_SINKHOLE !== 'off';
serveAgent(reader, writer, { layout, vm, sinkhole }).then(
  () => end(0),
  (err: unknown) => {
    process.stderr.write(`pyti-agent: ${String(err)}\n`);
    end(70);
  },
);
