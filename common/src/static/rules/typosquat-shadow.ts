/** A distribution shipping a popular package's top-level module under another distribution name. */
import type { StaticRule } from '../static-rule.js';

/** Popular import names and the distribution names (normalized) allowed to ship them, besides names containing the import name. */
const POPULAR: Record<string, string[]> = {
  requests: [], urllib3: [], numpy: [], pandas: [], django: [], flask: [], colorama: [], six: [], boto3: [], botocore: [],
  cryptography: [], certifi: [], idna: [], chardet: [], charset_normalizer: ['charset-normalizer'], click: [], jinja2: [], markupsafe: [],
  werkzeug: [], tqdm: [], matplotlib: [], scipy: [], selenium: [], psutil: [], pytz: [], simplejson: [], paramiko: [], setuptools: [],
  pip: [], yaml: ['pyyaml', 'ruamel-yaml'], PIL: ['pillow'], bs4: ['beautifulsoup4'], dateutil: ['python-dateutil'], attr: ['attrs'],
  jwt: ['pyjwt'], cv2: ['opencv'], sklearn: ['scikit-learn'], discord: ['py-cord', 'discord-py'], telegram: ['python-telegram-bot'],
  Crypto: ['pycryptodome', 'pycrypto'], OpenSSL: ['pyopenssl'], serial: ['pyserial'], nmap: ['python-nmap'], socks: ['pysocks'],
  openai: [], web3: [], tensorflow: [], torch: [], keras: [], aiohttp: [], httpx: [], pygame: [], pyautogui: [], pynput: [],
  win32api: ['pywin32'], Cryptodome: ['pycryptodomex'], google: ['protobuf', 'google', 'googleapis-common-protos', 'grpcio'],
};

const norm = (s: string): string => s.toLowerCase().replace(/[-_.]+/g, '-');

export const typosquatShadow: StaticRule = {
  id: 'typosquat-shadow',
  description: "the distribution ships a popular package's top-level module (requests, urllib3, numpy, colorama, …) while its own name is another",
  severity: 'medium',
  technique: 'Typosquats that copy the real package and add a payload, so `import requests` works after installing "reqeusts" (PyPI 2017 skcsirt list, 2022–2024 colorama/requests clones)',
  run(file, ctx) {
    if (!ctx.distName) return [];
    const p = file.path.replace(/\\/g, '/').split('/');
    // wheels: pkg/__init__.py or pkg.py at the root; sdists: name-ver/pkg/__init__.py or name-ver/src/pkg/__init__.py
    const rel = ctx.files.some((f) => f.role === 'setup' || /PKG-INFO$/.test(f.path)) && p.length > 1 ? p.slice(1) : p;
    const r = rel[0] === 'src' ? rel.slice(1) : rel;
    let mod: string | undefined;
    if (r.length === 2 && r[1] === '__init__.py') mod = r[0]!;
    else if (r.length === 1 && r[0]!.endsWith('.py')) mod = r[0]!.slice(0, -3);
    if (!mod || !(mod in POPULAR)) return [];
    const d = norm(ctx.distName);
    const m = norm(mod);
    if (d.includes(m) || POPULAR[mod]!.some((a) => d.includes(a))) return [];
    return [{ line: 0, severity: 'medium', what: `ships top-level "${mod}" as distribution "${ctx.distName}"`, excerpt: `${file.path} (top-level module ${mod} in distribution ${ctx.distName})` }];
  },
};
