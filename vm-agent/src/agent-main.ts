/**
 * Entry point of the bundled agent (`agent.mjs` in the guest). The channel is stdin/stdout, or the
 * character device named by `--port` (a virtio-serial port in a VM). Logs go to stderr.
 */
import { createReadStream, createWriteStream, openSync } from 'node:fs';
import { DEFAULT_LAYOUT, serveAgent } from './agent.js';
import { StreamMessageReader, StreamMessageWriter } from './transport.js';

const portIdx = process.argv.indexOf('--port');
let reader: StreamMessageReader;
let writer: StreamMessageWriter;
if (portIdx !== -1 && process.argv[portIdx + 1]) {
  const fd = openSync(process.argv[portIdx + 1]!, 'r+');
  reader = new StreamMessageReader(createReadStream('', { fd, autoClose: false }));
  writer = new StreamMessageWriter(createWriteStream('', { fd, autoClose: false }));
} else {
  reader = new StreamMessageReader(process.stdin);
  writer = new StreamMessageWriter(process.stdout);
}
const uidArg = process.env.PYTI_AGENT_UID_BASE;
const layout = { ...DEFAULT_LAYOUT, uidBase: uidArg === 'self' ? undefined : DEFAULT_LAYOUT.uidBase };
const vm = process.env.PYTI_GUEST === 'vm' ? { attachScript: process.env.PYTI_ATTACH || undefined } : undefined;
serveAgent(reader, writer, { layout, vm }).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`pyti-agent: ${String(err)}\n`);
    process.exit(70);
  },
);
