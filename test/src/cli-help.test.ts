// `pyti --help` (the installed command, bin/pyti.mjs over the built CLIs) names every command the
// master's CLI answers, so `subscribe` and its subcommands are discoverable from the top-level help.
import { execFileSync } from 'node:child_process';
import { MASTER_COMMANDS } from '@pyti/master/cli';

const bin = new URL('../../bin/pyti.mjs', import.meta.url).pathname;

describe('pyti --help', () => {
  const help = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });

  it('lists every master command, subscribe included', () => {
    for (const cmd of MASTER_COMMANDS) expect(help).toMatch(new RegExp(`^  pyti ${cmd}\\b`, 'm'));
    expect(help).toContain('pyti subscribe add NAME');
    expect(help).toContain('pyti subscribe list');
  });

  it('shows submit --force and exit 69 (the master failed on its side), as pyti submit --help does', () => {
    expect(help).toMatch(/^  pyti submit .*\[--force\]/m);
    expect(help).toMatch(/\b69 the master failed on its side\b/);
    const master = execFileSync(process.execPath, [bin, 'master', '--help'], { encoding: 'utf8' });
    expect(master.match(/\[--observations-token T\]/g)).toHaveLength(1);
  });

  it('points from the top-level help to the full subscribe help, which answers', () => {
    const sub = execFileSync(process.execPath, [bin, 'subscribe', '--help'], { encoding: 'utf8' });
    expect(sub).toContain('pyti subscribe set NAME');
    expect(sub).toContain('--on-backlog');
  });
});
