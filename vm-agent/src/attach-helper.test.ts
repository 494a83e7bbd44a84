import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AttachHelper } from './attach-helper.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pyti-attach-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * An attach script with the guest init's calling convention (its argument, or with --wait a line on
 * stdin): it records the clock it was given and how, and fails when told to.
 */
function script(name: string, body = ''): { path: string; log: string } {
  const path = join(dir, name);
  const log = join(dir, `${name}.log`);
  writeFileSync(path, `#!/bin/sh
clock=$1; how=arg
[ "$clock" != --wait ] || { read -r clock; how=stdin; }
${body}
echo "$how $clock" >> ${log}
`);
  chmodSync(path, 0o755);
  return { path, log };
}

describe('the attach helper', () => {
  it('starts the script at once, waiting, and hands it the clock when the job comes', async () => {
    const s = script('ok');
    const helper = new AttachHelper(s.path);
    await new Promise((r) => setTimeout(r, 200));
    expect(() => readFileSync(s.log, 'utf8')).toThrow(); // still waiting for its line
    await helper.attach('@1700000000');
    expect(readFileSync(s.log, 'utf8')).toBe('stdin @1700000000\n');
  });

  it('sends - when the clock is right', async () => {
    const s = script('noclock');
    await new AttachHelper(s.path).attach(undefined);
    expect(readFileSync(s.log, 'utf8')).toBe('stdin -\n');
  });

  it('rejects with what a failing script printed', async () => {
    const s = script('fails', 'echo "mount: mounting /dev/vdb on /opt/pyti/in failed: Invalid argument" >&2; exit 1');
    await expect(new AttachHelper(s.path).attach('@1')).rejects.toThrow('mounting /dev/vdb on /opt/pyti/in failed');
  });

  it('runs the script directly, with the clock as its argument, when the waiting one has died', async () => {
    const path = join(dir, 'dies');
    const log = join(dir, 'dies.log');
    writeFileSync(path, `#!/bin/sh\n[ "$1" = --wait ] && exit 3\necho "arg $1" >> ${log}\n`);
    chmodSync(path, 0o755);
    const helper = new AttachHelper(path);
    await new Promise((r) => setTimeout(r, 300));
    await helper.attach('@42');
    expect(readFileSync(log, 'utf8')).toBe('arg @42\n');
  });
});
