/**
 * The README's demo: builds the bundled sample distribution (pyti-sample, with its dependency
 * pyti-helper in a wheelhouse) and audits it with `pyti audit`, as a user would.
 */
import { mkdirSync, copyFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { main } from '@pyti/slave/cli';
import { buildFixture, makeWheelhouse } from './fixture-dists.js';

const root = resolve(new URL('../../', import.meta.url).pathname);
const demoDir = join(root, 'pyti-out', 'demo');
rmSync(demoDir, { recursive: true, force: true });
mkdirSync(demoDir, { recursive: true });
const sdist = buildFixture('pyti-sample', 'sdist');
const dist = join(demoDir, 'pyti-sample-1.0.tar.gz');
copyFileSync(sdist, dist);
const wheels = makeWheelhouse(join(demoDir, 'wheels'), ['pyti-helper']);
process.stderr.write(`demo: auditing ${dist} with the wheelhouse ${wheels}\n`);
process.exitCode = await main(['audit', dist, '--wheelhouse', wheels, '--out', join(demoDir, 'report')]);
