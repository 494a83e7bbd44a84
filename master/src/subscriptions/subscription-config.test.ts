import { loadMasterConfig } from '../config.js';
import { runMasterCommand } from '../server/master-command.js';

describe('the master flags of subscriptions', () => {
  it('default to pypi.org, auto follow, 60 s change-log and 15 s RSS polls; PYTI_INDEX_URL and the flags override', () => {
    expect(loadMasterConfig({ data: '/tmp/x' }, {})).toMatchObject({ indexUrl: 'https://pypi.org', follow: 'auto', pollMs: 60_000, rssPollMs: 15_000 });
    expect(loadMasterConfig({ data: '/tmp/x' }, { PYTI_INDEX_URL: 'http://mirror.example/' }).indexUrl).toBe('http://mirror.example');
    expect(loadMasterConfig({ data: '/tmp/x', indexUrl: 'http://127.0.0.1:9/', follow: false, pollMs: '300', rssPollMs: '0' }, {}))
      .toMatchObject({ indexUrl: 'http://127.0.0.1:9', follow: false, pollMs: 300, rssPollMs: 0 });
  });

  it('refuses a bad index URL or poll interval, naming the flag', () => {
    expect(() => loadMasterConfig({ indexUrl: 'ftp://x' }, {})).toThrow(/^--index-url: index URL ftp:\/\/x is not http or https/);
    expect(() => loadMasterConfig({}, { PYTI_INDEX_URL: 'https://u:p@x' })).toThrow(/^PYTI_INDEX_URL: /);
    expect(() => loadMasterConfig({ pollMs: '10' }, {})).toThrow(/^--poll-ms: 10 is outside 100\.\./);
    expect(() => loadMasterConfig({ rssPollMs: '50' }, {})).toThrow(/^--rss-poll-ms: 50 is below 100 \(0 turns RSS off\)/);
  });

  it('pyti master refuses --follow with --no-follow', async () => {
    let err = '';
    expect(await runMasterCommand(['--follow', '--no-follow'], { out: () => undefined, err: (s) => { err += s; } })).toBe(64);
    expect(err).toMatch(/--follow and --no-follow contradict each other/);
  });
});
