// Tiny, valid distribution files for the replay (the test index reads their metadata and hashes them):
// an sdist (`NAME-VERSION/PKG-INFO` and a setup.py in a .tar.gz) or a wheel (a stored zip with its
// .dist-info) of the schedule's file, with the filename, name, version and wheel tag it names.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { zipStored } from '../../master/dist/testing/tiny-dists.js';

/** One ustar member (regular file, mode 0644, fixed mtime). */
function tarMember(name, data) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write(`${(1_700_000_000).toString(8).padStart(11, '0')}\0`, 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}

/** The bytes of the schedule's file `f` ({filename, name, version, kind, tag}). */
export function distBytes(f) {
  const meta = `Metadata-Version: 2.1\nName: ${f.name}\nVersion: ${f.version}\nSummary: replayed upload\n`;
  if (f.kind === 'sdist') {
    const top = f.filename.slice(0, -'.tar.gz'.length);
    const tar = Buffer.concat([
      tarMember(`${top}/PKG-INFO`, Buffer.from(meta)),
      tarMember(`${top}/setup.py`, Buffer.from('from setuptools import setup\nsetup()\n')),
      Buffer.alloc(1024),
    ]);
    return gzipSync(tar);
  }
  const stem = f.filename.slice(0, f.filename.length - f.tag.length - '-.whl'.length);
  const di = `${stem}.dist-info`;
  const pkg = f.name.replace(/[-.]+/g, '_');
  return zipStored({
    [`${pkg}/__init__.py`]: 'VALUE = 1\n',
    [`${di}/METADATA`]: meta,
    [`${di}/WHEEL`]: `Wheel-Version: 1.0\nGenerator: pyti-replay\nRoot-Is-Purelib: ${f.tag === 'py3-none-any'}\nTag: ${f.tag}\n`,
    [`${di}/RECORD`]: '',
  });
}

/** Writes `f` into `dir`; returns its path, sha256 and size. */
export function writeDist(dir, f) {
  const bytes = distBytes(f);
  const path = join(dir, f.filename);
  writeFileSync(path, bytes);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length };
}
