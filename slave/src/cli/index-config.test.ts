import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexConfig, parsePipConfig, pipConfigFiles } from './index-config.js';

let home: string;
let etc: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'pyti-pipconf-'));
  etc = join(home, 'etc-xdg');
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const write = (path: string, text: string): string => {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
};
const code = (f: () => unknown): string | undefined => {
  try {
    f();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('the index pyti audit uses', () => {
  it('reads pip configuration as configparser does', () => {
    const m = parsePipConfig('\uFEFF# comment\n[global]\nIndex_URL = http://a/simple\n  continued\ntimeout: 60\n; c\n[install]\n--index-url=http://b/simple\n');
    expect(m.get('global.index-url')).toBe('http://a/simple\ncontinued');
    expect(m.get('global.timeout')).toBe('60');
    expect(m.get('install.index-url')).toBe('http://b/simple');
  });

  it('follows pip\'s precedence: flag, PYTI_INDEX_URL, PIP_INDEX_URL, PIP_CONFIG_FILE, user files, global files, default', () => {
    const env: NodeJS.ProcessEnv = { XDG_CONFIG_DIRS: etc };
    expect(indexConfig({ env, home })).toMatchObject({ url: 'https://pypi.org', from: 'default', explicit: false, simpleUrl: 'https://pypi.org/simple/' });
    const g = write(join(etc, 'pip', 'pip.conf'), '[global]\nindex-url = http://xdg.invalid/simple\n');
    expect(indexConfig({ env, home }).from).toBe(g);
    const legacy = write(join(home, '.pip', 'pip.conf'), '[global]\nindex-url = http://legacy.invalid/simple/\n');
    expect(indexConfig({ env, home })).toMatchObject({ from: legacy, indexUrl: 'http://legacy.invalid', simpleUrl: 'http://legacy.invalid/simple/' });
    const user = write(join(home, '.config', 'pip', 'pip.conf'), '[global]\nindex-url = http://user.invalid/simple\n[install]\nindex-url = http://install-only.invalid\n');
    expect(indexConfig({ env, home }).from).toBe(user);
    const envFile = write(join(home, 'custom.conf'), '[global]\nindex-url = http://envfile.invalid/\n');
    expect(indexConfig({ env: { ...env, PIP_CONFIG_FILE: envFile }, home })).toMatchObject({ from: envFile, indexUrl: 'http://envfile.invalid' });
    // PIP_CONFIG_FILE naming a file that exists turns the user files off; an empty one leaves the global ones.
    write(envFile, '[global]\ntimeout = 3\n');
    expect(indexConfig({ env: { ...env, PIP_CONFIG_FILE: envFile }, home }).from).toBe(g);
    expect(indexConfig({ env: { ...env, PIP_CONFIG_FILE: '/dev/null' }, home }).from).toBe('default');
    expect(indexConfig({ env: { ...env, PIP_INDEX_URL: ' http://pipenv.invalid/simple/ ' }, home })).toMatchObject({ from: 'PIP_INDEX_URL', explicit: true, indexUrl: 'http://pipenv.invalid' });
    expect(indexConfig({ env: { ...env, PIP_INDEX_URL: 'http://pipenv.invalid/simple/', PYTI_INDEX_URL: 'http://pyti.invalid' }, home }).from).toBe('PYTI_INDEX_URL');
    expect(indexConfig({ flag: 'http://127.0.0.1:8080', env: { ...env, PYTI_INDEX_URL: 'http://pyti.invalid' }, home })).toMatchObject({ from: '--index-url', indexUrl: 'http://127.0.0.1:8080', simpleUrl: 'http://127.0.0.1:8080/simple/' });
  });

  it('lists the files lowest precedence first, site and PIP_CONFIG_FILE last', () => {
    expect(pipConfigFiles({ XDG_CONFIG_DIRS: '/a:/b', XDG_CONFIG_HOME: '/cfg', VIRTUAL_ENV: '/venv', PIP_CONFIG_FILE: '/nonexistent.conf' }, '/home/u')).toEqual([
      '/a/pip/pip.conf', '/b/pip/pip.conf', '/etc/pip.conf', '/home/u/.pip/pip.conf', '/cfg/pip/pip.conf', '/venv/pip.conf', '/nonexistent.conf',
    ]);
  });

  it('refuses an index URL that is not http(s) or carries credentials, saying where it came from', () => {
    expect(code(() => indexConfig({ flag: 'ftp://x', env: {}, home }))).toBe('PYTI_CONFIG_INVALID');
    expect(() => indexConfig({ env: { PIP_INDEX_URL: 'https://user:secret@mirror.invalid/simple' }, home })).toThrow(/from PIP_INDEX_URL/);
  });
});
