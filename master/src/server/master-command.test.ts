import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMasterCommand } from './master-command.js';

describe('pyti master', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'pyti-mc-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts, says where it listens and where the tokens are, and closes when stopped', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const stop = new AbortController();
    const running = runMasterCommand(['--data', dir, '--port', '0', '--slave-token', 'w1:token-of-w1'], { out: (s) => out.push(s), err: (s) => err.push(s) }, { stop: stop.signal });
    for (let i = 0; i < 100 && out.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    const url = /^pyti master listening on (http:\/\/\S+)\n$/.exec(out[0] ?? '')?.[1];
    expect(url).toBeDefined();
    expect(out.join('')).toContain(join(dir, 'tokens.json'));
    expect(out.join('')).toContain('w1');
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ ok: true });
    stop.abort();
    expect(await running).toBe(0);
    expect(err.join('')).toContain('closed');
  });

  it('answers bad flags with 64', async () => {
    const err: string[] = [];
    expect(await runMasterCommand(['--port', 'x', '--data', dir], { out: () => undefined, err: (s) => err.push(s) })).toBe(64);
    expect(err.join('')).toContain('PYTI_CONFIG_INVALID');
    expect(await runMasterCommand(['--bogus'], { out: () => undefined, err: () => undefined })).toBe(64);
  });
});
