// When the browser tests may skip: only without chromium and outside CI.
import { browserSkipReason, chromiumArgs, findChromium, isCi } from './chromium.js';

describe('finding chromium for the browser tests', () => {
  it('takes PYTI_CHROMIUM when it exists, and says why not when it does not', () => {
    expect(findChromium({ PYTI_CHROMIUM: process.execPath })).toBe(process.execPath);
    expect(browserSkipReason({ PYTI_CHROMIUM: process.execPath, CI: 'true' })).toBeNull();
    expect(findChromium({ PYTI_CHROMIUM: '/nonexistent/chromium' })).toBeNull();
    expect(browserSkipReason({ PYTI_CHROMIUM: '/nonexistent/chromium' })).toMatch(/PYTI_CHROMIUM=\/nonexistent\/chromium does not exist/);
  });

  it('a missing browser is a skip on a developer machine and a failure under CI', () => {
    const missing = { PYTI_CHROMIUM: '/nonexistent/chromium' };
    expect(browserSkipReason({ ...missing, CI: 'false' })).not.toBeNull();
    expect(() => browserSkipReason({ ...missing, CI: 'true' })).toThrow(/browser tests cannot run under CI/);
    expect(() => browserSkipReason({ ...missing, CI: '1' })).toThrow(/under CI/);
    expect([isCi({}), isCi({ CI: '' }), isCi({ CI: '0' }), isCi({ CI: 'true' })]).toEqual([false, false, false, true]);
  });

  it('adds --no-sandbox only when running as root', () => {
    expect(chromiumArgs().includes('--no-sandbox')).toBe(process.getuid?.() === 0);
  });
});
