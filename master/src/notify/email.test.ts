// E-mail through a real SMTP conversation: a local SMTP sink (the smtp-server package on
// 127.0.0.1:0, with AUTH) receives what the master sends for flagged audits and regressions, and
// the test reads the message that arrived. SMTP settings are checked at start-up.
import { SMTPServer } from 'smtp-server';
import { loadMasterConfig } from '../config.js';
import { until } from '../testing/cli-test-kit.js';
import { KIT_USER, startKitMaster, type KitMaster } from '../testing/notify-kit.js';
import { tinyReport } from '../testing/tiny-dists.js';
import { loadNotifyConfig } from './notify-config.js';

interface Mail { from: string; to: string[]; user: string | undefined; raw: string }

/** A message's header (unfolded) and its body (quoted-printable decoded when so encoded). */
function read(raw: string): { header: (name: string) => string | undefined; body: string } {
  const [head, ...rest] = raw.split('\r\n\r\n');
  const headers = head!.replace(/\r\n[ \t]+/g, ' ').split('\r\n');
  const header = (name: string) => headers.find((h) => h.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim();
  let body = rest.join('\r\n\r\n');
  if (/quoted-printable/i.test(header('content-transfer-encoding') ?? '')) {
    body = body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return { header, body };
}

describe('e-mail notifications (local SMTP sink)', () => {
  let sink: SMTPServer;
  let port: number;
  const mails: Mail[] = [];
  let k: KitMaster;

  beforeAll(async () => {
    sink = new SMTPServer({
      disabledCommands: ['STARTTLS'], allowInsecureAuth: true, logger: false,
      onAuth(auth, _session, cb) {
        if (auth.username === 'pyti' && auth.password === 'smtp-password-1') cb(null, { user: auth.username });
        else cb(new Error('bad credentials'));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push({ from: (session.envelope.mailFrom as { address: string }).address, to: session.envelope.rcptTo.map((r) => r.address), user: session.user as string | undefined, raw: Buffer.concat(chunks).toString('utf8') });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    port = (sink.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await k?.close();
    await new Promise<void>((resolve) => sink.close(resolve));
  });

  it('mails flagged audits and regressions to the configured addresses, with the verdict and the audit page', async () => {
    k = await startKitMaster({
      smtpHost: '127.0.0.1', smtpPort: String(port), smtpFrom: 'pyti@example.invalid', smtpTo: 'sec@example.invalid, ops@example.invalid', smtpUser: 'pyti',
    }, { notifications: { everyMs: 20, retryMs: 50, log: () => undefined } }, undefined, { PYTI_SMTP_PASSWORD: 'smtp-password-1' });
    const clean = await k.audit('lib', '1.0', tinyReport('lib', '1.0', 'clean'));
    const bad = await k.audit('lib', '1.1', tinyReport('lib', '1.1', 'malicious'));
    await until('two mails (flagged, regression)', async () => (mails.length >= 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 200));
    expect(mails).toHaveLength(2);
    const got = mails.map((m) => ({ ...m, ...read(m.raw) }));
    for (const m of got) {
      expect(m.from).toBe('pyti@example.invalid');
      expect(m.to).toEqual(['sec@example.invalid', 'ops@example.invalid']);
      expect(m.user).toBe('pyti');
      expect(m.header('x-pyti-event')).toMatch(/^(flagged|regression)$/);
      expect(m.body).toContain(`audit: ${k.url}/audits/${bad.id}`);
      expect(m.body).toMatch(/verdict: malicious \(score \d+\)/);
    }
    const flagged = got.find((m) => m.header('x-pyti-event') === 'flagged')!;
    expect(flagged.header('subject')).toBe('[PyTI] lib 1.1 FLAGGED: malicious / pass');
    const regression = got.find((m) => m.header('x-pyti-event') === 'regression')!;
    expect(regression.header('subject')).toBe('[PyTI] lib 1.1 REGRESSED: malicious / pass');
    expect(regression.body).toContain(`previous release: 1.0 (${k.url}/audits/${clean.id})`);
    expect(regression.body).toContain('  - verdict malicious (the previous release was clean)');
    expect(k.m.notifications.outbox.all().filter((d) => d.channel === 'email').map((d) => [d.event, d.state, d.response_code])).toEqual([['flagged', 'sent', 250], ['regression', 'sent', 250]]);
  });

  it('logs a refused login as a failed delivery with the server\'s reply, without retrying it', async () => {
    await k?.close();
    mails.length = 0;
    k = await startKitMaster({
      smtpHost: '127.0.0.1', smtpPort: String(port), smtpFrom: 'pyti@example.invalid', smtpTo: 'sec@example.invalid', smtpUser: 'pyti', emailOn: 'completed',
    }, { notifications: { everyMs: 20, retryMs: 50, log: () => undefined } }, undefined, { PYTI_SMTP_PASSWORD: 'wrong-password' });
    await k.audit('lib', '1.0', tinyReport('lib', '1.0', 'clean'));
    const d = await until('the failed mail', async () => k.m.notifications.outbox.all().find((x) => x.state === 'failed'));
    expect(d).toMatchObject({ channel: 'email', event: 'completed', attempts: 1, response_code: 535 });
    expect(d.last_error).toMatch(/^SMTP: .*bad credentials/);
    expect(mails).toHaveLength(0);
  });

  it('checks the SMTP settings at start-up', () => {
    const bad = (flags: Parameters<typeof loadNotifyConfig>[0], env: Record<string, string> = {}) => {
      try {
        loadNotifyConfig(flags, env);
      } catch (err) {
        return `${(err as { code: string }).code}: ${(err as Error).message}`;
      }
      return 'accepted';
    };
    expect(bad({ smtpHost: '127.0.0.1', smtpTo: 'a@example.invalid' })).toBe('PYTI_CONFIG_INVALID: --smtp-from: is required to send e-mail');
    expect(bad({ smtpFrom: 'a@example.invalid', smtpTo: 'a@example.invalid' })).toBe('PYTI_CONFIG_INVALID: --smtp-host: is required to send e-mail');
    expect(bad({ smtpHost: '127.0.0.1', smtpFrom: 'a@example.invalid', smtpTo: 'a@example.invalid, not an address' })).toMatch(/--smtp-to: "not an address" is not an e-mail address/);
    expect(bad({ smtpHost: '127.0.0.1', smtpPort: '70000', smtpFrom: 'a@example.invalid', smtpTo: 'a@example.invalid' })).toMatch(/--smtp-port: "70000" is not a port/);
    expect(bad({ smtpHost: '127.0.0.1', smtpFrom: 'a@example.invalid', smtpTo: 'a@example.invalid', smtpUser: 'u' })).toMatch(/--smtp-user: needs the password in PYTI_SMTP_PASSWORD/);
    expect(bad({ smtpHost: '127.0.0.1', smtpFrom: 'a@example.invalid', smtpTo: 'a@example.invalid', emailOn: 'flagged,sometimes' })).toMatch(/--email-on: must be a comma-separated list of completed, flagged, regression/);
    expect(bad({ publicUrl: 'ftp://x' })).toMatch(/--public-url: "ftp:\/\/x": must be http or https/);
    const ok = loadNotifyConfig({ smtpHost: 'mail.example.invalid', smtpStarttls: true, smtpFrom: 'a@example.invalid', smtpTo: 'b@example.invalid', emailOn: 'all', publicUrl: 'https://pyti.example.invalid/' }, {});
    expect(ok).toEqual({ publicUrl: 'https://pyti.example.invalid', smtp: { host: 'mail.example.invalid', port: 587, starttls: true, from: 'a@example.invalid', to: ['b@example.invalid'], user: null, password: null, events: ['completed', 'flagged', 'regression'] } });
    expect(Object.isFrozen(ok) && Object.isFrozen(ok.smtp)).toBe(true);
    expect(loadMasterConfig({ data: '/tmp/x' }, { PYTI_USER_TOKEN: KIT_USER }).notify).toEqual({ publicUrl: null, smtp: null });
  });
});
