import { allowedHostList, hostAllowed, normalizeAllowedHost } from './allowed-hosts.js';
import { loadMasterConfig } from '../config.js';

describe('Host allow-list', () => {
  it('defaults to the listen host and the loopback names, on any port, frozen', () => {
    const list = allowedHostList('pyti.internal', []);
    expect(list).toEqual(expect.arrayContaining(['localhost', '127.0.0.1', '[::1]', 'pyti.internal']));
    expect(Object.isFrozen(list)).toBe(true);
    for (const h of ['localhost:8470', 'PYTI.internal:1', '127.0.0.1', '[::1]:8470']) expect(hostAllowed(h, list)).toBe(true);
    for (const h of [undefined, '', 'evil.invalid', 'localhost.evil.invalid', '127.0.0.1.nip.invalid:8470', 'localhost:99999', 'a b']) expect(hostAllowed(h, list)).toBe(false);
  });

  it('does not allow the wildcard address itself as a name, but this machine\'s addresses when listening on all', () => {
    const list = allowedHostList('0.0.0.0', []);
    expect(list).not.toContain('0.0.0.0');
    expect(list).toContain('127.0.0.1');
  });

  it('adds --allowed-host names (with or without a port); "*" allows any', () => {
    const list = allowedHostList('127.0.0.1', ['Master.Invalid', 'proxy.invalid:443', '[fd00::1]']);
    expect(hostAllowed('master.invalid:8470', list)).toBe(true);
    expect(hostAllowed('proxy.invalid:443', list)).toBe(true);
    expect(hostAllowed('proxy.invalid', list)).toBe(false);
    expect(hostAllowed('[fd00::1]:80', list)).toBe(true);
    expect(allowedHostList('127.0.0.1', ['*'])).toEqual(['*']);
    expect(hostAllowed('anything.invalid', ['*'])).toBe(true);
  });

  it('refuses malformed entries at start-up with PYTI_CONFIG_INVALID', () => {
    for (const bad of ['', 'a b', 'http://x.invalid', 'x.invalid:70000', '-x.invalid', 'x..invalid', '[zz::1]', 'x.invalid/']) {
      expect(() => normalizeAllowedHost(bad)).toThrow(expect.objectContaining({ code: 'PYTI_CONFIG_INVALID' }));
    }
    expect(() => loadMasterConfig({ data: '/x', allowedHost: ['ok.invalid', 'not ok'] }, {})).toThrow(/--allowed-host/);
    expect(loadMasterConfig({ data: '/x', allowedHost: ['ok.invalid'] }, {}).allowedHosts).toContain('ok.invalid');
  });
});
