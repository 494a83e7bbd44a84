/**
 * The release diff end to end, every component a separate process: the test index, a master
 * (`pyti master`) and a bubblewrap slave (`pyti slave`). Two releases of the fixture project diffdemo
 * are uploaded and audited for real; 1.1 looks up diffdemo-beacon.invalid and connects to 127.0.0.1:9
 * at import. The diff (`pyti diff`, the API, the pages) must name that change, and the flagged 1.1
 * audit's page must say what is new since 1.0.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserClient, type AuditDetail } from '@pyti/master';
import { BwrapBackend } from '@pyti/slave';
import { buildFixture } from './fixture-dists.js';
import { buildIndexFixtures } from './index-fixtures.js';
import { TestChild, eventually, freePort } from './child-process.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const PYTI = join(ROOT, 'bin/pyti.mjs');
const INDEX_MAIN = join(ROOT, 'test/dist/index-server/main.js');
const USER_TOKEN = 'user-token-for-the-release-diff-test';
const SLAVE_TOKEN = 'slave-token-for-the-release-diff-test';
const ECHO = process.env.PYTI_TEST_ECHO === '1';

jest.setTimeout(15 * 60_000);

let dir: string;
let index: TestChild;
let master: TestChild;
let slave: TestChild;
let masterUrl: string;
let client: UserClient;
let skip: string | null = null;

async function waitDone(id: string): Promise<AuditDetail> {
  return eventually(`audit ${id} to finish`, async () => {
    const d = await client.get(id);
    return ['done', 'error', 'cancelled'].includes(d.state) ? d : undefined;
  }, 5 * 60_000, 500);
}

const page = async (path: string): Promise<string> => {
  const res = await fetch(`${masterUrl}${path}`, { headers: { authorization: `Bearer ${USER_TOKEN}` } });
  expect(res.status).toBe(200);
  return res.text();
};

beforeAll(async () => {
  skip = await new BwrapBackend().probe();
  if (skip) {
    process.stderr.write(`release diff test skipped: ${skip}\n`);
    return;
  }
  dir = mkdtempSync(join(tmpdir(), 'pyti-release-diff-'));
  index = new TestChild('index', process.execPath, [INDEX_MAIN, ...buildIndexFixtures().files], { echo: ECHO });
  const indexUrl = JSON.parse((await index.waitForLine(/^\{"url"/, 30_000)).input!).url as string;
  master = new TestChild('master', process.execPath, [
    PYTI, 'master', '--data', join(dir, 'master'), '--host', '127.0.0.1', '--port', String(await freePort()), '--no-follow',
    '--slave-token', `a:${SLAVE_TOKEN}`,
  ], { env: { PYTI_USER_TOKEN: USER_TOKEN }, echo: ECHO });
  masterUrl = (await master.waitForLine(/pyti master listening on (\S+)/, 30_000))[1]!.replace(/\/$/, '');
  client = new UserClient({ url: masterUrl, token: USER_TOKEN });
  slave = new TestChild('slave', process.execPath, [
    PYTI, 'slave', '--master', masterUrl, '--token', SLAVE_TOKEN, '--name', 'a', '--backend', 'bwrap', '--concurrency', '1',
    '--index-url', indexUrl, '--data', join(dir, 'slave'),
  ], { echo: ECHO });
});

afterAll(async () => {
  await slave?.stop('SIGKILL');
  await master?.stop('SIGKILL');
  await index?.stop('SIGKILL');
  if (dir && !process.env.PYTI_KEEP_TEST_OUTPUT) rmSync(dir, { recursive: true, force: true });
});

describe('release diff of two real audits', () => {
  it('names the network call 1.1 added, in pyti diff, the API and the pages', async () => {
    if (skip) return;
    const first = await client.submitUpload(buildFixture('diffdemo-1.0', 'sdist'), {});
    const second = await client.submitUpload(buildFixture('diffdemo-1.1', 'sdist'), {});
    const v10 = await waitDone(first.id);
    const v11 = await waitDone(second.id);
    expect([v10.state, v10.verdict]).toEqual(['done', 'clean']);
    expect(v11.state).toBe('done');
    expect(['suspicious', 'malicious']).toContain(v11.verdict);

    // pyti diff NAME VER1 VER2, as a user runs it.
    const cli = spawnSync(process.execPath, [PYTI, 'diff', 'diffdemo', '1.0', '1.1', '--master', masterUrl, '--token', USER_TOKEN], { encoding: 'utf8' });
    expect(cli.status).toBe(0);
    expect(cli.stdout).toContain('DNS names:\n  + import: diffdemo-beacon.invalid');
    expect(cli.stdout).toContain('+ import: connect 127.0.0.1:9/tcp');
    expect(cli.stdout).toContain('new failure: tests/test_diffdemo.py::test_greet_strips');

    const d = await client.diff(first.id, second.id);
    expect(d.findings.added.map((f) => `${f.phase} ${f.rule}`)).toEqual(expect.arrayContaining(['import dns-lookup', 'import network-attempt']));
    expect(d.findings.removed).toEqual([]);
    expect(d.processes.added).toEqual([]); // the same commands ran: only the package's behaviour changed

    // The audit JSON links the previous release; the flagged audit's page says what is new since it.
    expect((await client.get(second.id)).history?.previousRelease?.id).toBe(first.id);
    const auditPage = await page(`/audits/${second.id}`);
    expect(auditPage).toContain('<h2>New since 1.0</h2>');
    expect(auditPage).toContain('new DNS lookup in import: diffdemo-beacon.invalid');
    const diffLink = /href="(\/projects\/diffdemo\/diff\?[^"]+)">the full diff with 1\.0</.exec(auditPage)![1]!.replace(/&amp;/g, '&');
    expect(await page(diffLink)).toContain('<code>diffdemo-beacon.invalid</code>');
    // From the list to the project in one click.
    expect(await page('/?q=diffdemo')).toContain('<a href="/projects/diffdemo">diffdemo</a>');
    const project = await page('/projects/diffdemo');
    expect(project).toContain(`href="/audits/${first.id}"`);
    expect(project).toContain('what changed since 1.0');
  });
});
