// `pyti audit` refuses archives the host and the guest would read differently with exit 2 and
// their PYTI_INPUT_* code, before anything runs (archives hand-built with common's kit).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, type CliIO } from '@pyti/slave/cli';
import { TAR_END, paxBlock, rawZip, tarBlock, tarFile } from '@pyti/common';

const PKG_INFO = 'Metadata-Version: 2.1\nName: hostile\nVersion: 1.0\n\n';
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'pyti-cli-hostile-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sdist = (...blocks: Buffer[]): Buffer => gzipSync(Buffer.concat([tarFile('hostile-1.0/PKG-INFO', PKG_INFO), ...blocks, TAR_END]));
const md = { name: 'hostile-1.0.dist-info/METADATA', data: PKG_INFO };

describe('pyti audit refuses ambiguous archives', () => {
  it.each([
    ['PAX path ../../../tmp/x', 'hostile-1.0.tar.gz', () => sdist(paxBlock({ path: '../../../tmp/x' }), tarFile('hostile-1.0/ok', 'x')), 'PYTI_INPUT_UNSAFE_PATH'],
    ['old GNU sparse member', 'hostile-1.0.tar.gz', () => sdist(tarBlock({ name: 'hostile-1.0/s', type: 'S', data: 'x' })), 'PYTI_INPUT_SPARSE'],
    ['duplicate PKG-INFO', 'hostile-1.0.tar.gz', () => sdist(tarFile('hostile-1.0/PKG-INFO', PKG_INFO.replace('1.0', '6.6.6'))), 'PYTI_INPUT_AMBIGUOUS'],
    ['symlink chain above the root', 'hostile-1.0.tar.gz', () => sdist(tarBlock({ name: 'hostile-1.0/up', type: '2', linkname: '..' }), tarBlock({ name: 'hostile-1.0/x', type: '2', linkname: 'up/../etc' })), 'PYTI_INPUT_UNSAFE_LINK'],
    ['zip central name differs from local', 'hostile-1.0-py3-none-any.whl', () => rawZip([md, { name: 'hostile/a.py', localName: '../a.py', data: 'x' }]), 'PYTI_INPUT_AMBIGUOUS'],
    ['two .dist-info directories', 'hostile-1.0-py3-none-any.whl', () => rawZip([md, { name: 'evil-1.0.dist-info/METADATA', data: PKG_INFO }]), 'PYTI_INPUT_AMBIGUOUS'],
    ['a name flagged UTF-8 that is not', 'hostile-1.0-py3-none-any.whl', () => rawZip([md, { name: Buffer.from('hostile/\xff.py', 'latin1'), flags: 0x800 }]), 'PYTI_INPUT_BAD_NAME'],
  ])('%s: exit 2, %s', async (what, filename, build, code) => {
    const caseDir = join(dir, what.replace(/\W+/g, '-'));
    mkdirSync(caseDir);
    const path = join(caseDir, filename);
    const sub = join(caseDir, 'out');
    writeFileSync(path, build());
    const o = { stdout: '', stderr: '', isTTY: false, out: (s: string) => (o.stdout += s), err: (s: string) => (o.stderr += s) } as CliIO & { stdout: string; stderr: string };
    const rc = await main(['audit', path, '--out', sub], o);
    expect(rc).toBe(2);
    expect(o.stderr).toContain(`pyti: error ${code}:`);
    expect(existsSync(sub)).toBe(false);
  });
});
