/**
 * The host's core-metadata parser (common/src/input/core-metadata.ts, what the report shows) and the
 * guest's (tasks/guest/inspect_dist.py's parse_metadata, what the tasks read) agree on real metadata:
 * every PKG-INFO and METADATA file of the guest image's Python packages (Debian's builds of real
 * releases: egg-info PKG-INFO of every Metadata-Version, wheel METADATA), run here with the host's python3.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireRootfs } from '@pyti/images';
import { parseCoreMetadata } from '@pyti/common';

const GUEST = new URL('../../tasks/guest/', import.meta.url).pathname;

test('host and guest parse every metadata file of the image alike', () => {
  const site = join(requireRootfs().path, 'usr/lib/python3/dist-packages');
  const files = readdirSync(site).flatMap((d) => (d.endsWith('.egg-info') ? [join(site, d, 'PKG-INFO')] : d.endsWith('.dist-info') ? [join(site, d, 'METADATA')] : []))
    .filter((f) => existsSync(f));
  expect(files.length).toBeGreaterThan(40);
  const py = JSON.parse(execFileSync('python3', ['-c', [
    'import json, sys, inspect_dist',
    'print(json.dumps([inspect_dist.read_metadata(p) for p in json.loads(sys.argv[1])]))',
  ].join('\n'), JSON.stringify(files)], { cwd: GUEST, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' }, maxBuffer: 64 << 20 })) as Record<string, unknown>[];
  const shown = (v: unknown): unknown => (v === null || v === false || (Array.isArray(v) && v.length === 0) ? undefined : v);
  let withDescription = 0;
  files.forEach((f, i) => {
    const ts = parseCoreMetadata(readFileSync(f))!;
    expect(ts).not.toBeNull();
    const p = py[i]!;
    const pairs: [string, unknown, unknown][] = [
      ['name', ts.name, p.name], ['version', ts.version, p.version], ['summary', ts.summary, p.summary], ['description', ts.description, p.description],
      ['author', ts.author, p.author], ['authorEmail', ts.authorEmail, p.author_email], ['maintainer', ts.maintainer, p.maintainer],
      ['license', ts.license, p.license], ['licenseExpression', ts.licenseExpression, p.license_expression], ['keywords', ts.keywords, p.keywords],
      ['homePage', ts.homePage, p.home_page], ['projectUrls', ts.projectUrls, p.project_urls], ['classifiers', ts.classifiers, p.classifiers],
      ['requiresDist', ts.requiresDist.length ? ts.requiresDist : undefined, p.requires_dist], ['requiresPython', ts.requiresPython, p.requires_python],
      ['providesExtra', ts.providesExtra, p.provides_extra], ['metadataEncoding', ts.metadataEncoding, p.metadata_encoding],
    ];
    for (const [k, a, b] of pairs) expect({ file: f, k, v: shown(a) }).toEqual({ file: f, k, v: shown(b) });
    // The name on disk is the metadata's (egg-info/dist-info directory names are normalized).
    expect(f.split('/').at(-2)!.toLowerCase().replace(/[-_.]+/g, '_')).toContain(ts.name.toLowerCase().replace(/[-_.]+/g, '_'));
    if (ts.description) withDescription++;
  });
  expect(withDescription).toBeGreaterThan(20);
});
