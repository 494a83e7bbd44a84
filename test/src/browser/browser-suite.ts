/**
 * The set-up every browser test file shares: one cluster (index, master, bwrap slave) and one signed-in
 * chromium per file, started in `beforeAll` and stopped in `afterAll`, or a reason to skip.
 *
 * A missing chromium or bubblewrap skips the file with the reason on a developer's machine; under
 * CI (`CI=true`) it fails the run instead (see chromium.ts).
 */
import { afterAll, beforeAll } from '@jest/globals';
import { browserSkipReason, isCi } from './chromium.js';
import { BrowserKit } from './browser-kit.js';
import { bwrapSkipReason, startCluster, USER_TOKEN, type BrowserCluster } from './browser-cluster.js';

/** What a test file gets: filled in by its `beforeAll` (read them inside tests, not at load time). */
export interface BrowserSuite {
  /** Why the tests cannot run here (they return at once), or null. */
  skip: string | null;
  cluster: BrowserCluster;
  kit: BrowserKit;
}

/**
 * Registers the file's `beforeAll`/`afterAll`; call it at the top of a test file, before any other
 * `beforeAll` (those then run with the cluster and the browser up). `name` names the file in the
 * skip message; `cluster` is passed to startCluster.
 */
export function useBrowserSuite(name: string, cluster: Parameters<typeof startCluster>[0] = {}): BrowserSuite {
  const suite = { skip: null } as BrowserSuite;
  beforeAll(async () => {
    suite.skip = browserSkipReason(); // throws under CI when chromium is missing
    if (!suite.skip) {
      const noBwrap = await bwrapSkipReason();
      if (noBwrap && isCi()) throw new Error(`browser tests cannot run under CI: ${noBwrap}`);
      suite.skip = noBwrap;
    }
    if (suite.skip) {
      process.stderr.write(`${name}: browser tests skipped: ${suite.skip}\n`);
      return;
    }
    suite.cluster = await startCluster(cluster);
    suite.kit = await BrowserKit.launch({ url: suite.cluster.url, token: USER_TOKEN, scratchDir: suite.cluster.dir });
  });
  afterAll(async () => {
    await suite.kit?.close();
    await suite.cluster?.close();
  });
  return suite;
}
