/**
 * A minimal QMP (QEMU Machine Protocol) client over a UNIX socket: the greeting, capability
 * negotiation, then one command at a time. Used to snapshot a warm guest (migrate to a socket).
 * Nothing waits for ever: a command (or the greeting) unanswered within its timeout closes the
 * connection, and it and every command after it fail.
 */
import net from 'node:net';

/** How long a QMP command may go unanswered by default. */
export const QMP_TIMEOUT_MS = 30000;

export class QmpClient {
  private buf = '';
  private waiting: ((msg: Record<string, unknown>) => void)[] = [];
  private closed = false;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        if ('event' in msg) continue;
        this.waiting.shift()?.(msg);
      }
    });
    // QEMU gone (or the socket closed): whatever waits gets an error, and so does every later command.
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w({ error: { class: 'GenericError', desc: 'the QMP connection closed' } });
    });
  }

  /** Connects, reads the greeting (within `timeoutMs`) and negotiates capabilities. */
  static async connect(path: string, timeoutMs = QMP_TIMEOUT_MS): Promise<QmpClient> {
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    const c = new QmpClient(sock);
    const greeting = await c.answer(new Promise<Record<string, unknown>>((r) => c.waiting.push(r)), 'greeting', timeoutMs);
    if ('error' in greeting) throw new Error(`QMP: ${JSON.stringify(greeting.error)}`);
    await c.execute('qmp_capabilities');
    return c;
  }

  /** Runs a command; resolves to its `return` value, rejects with its `error` or when unanswered within `timeoutMs`. */
  async execute(command: string, args?: Record<string, unknown>, timeoutMs = QMP_TIMEOUT_MS): Promise<unknown> {
    if (this.closed) throw new Error(`QMP ${command}: the QMP connection closed`);
    const msg = await this.answer(new Promise<Record<string, unknown>>((resolve) => {
      this.waiting.push(resolve);
      this.sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    }), command, timeoutMs);
    if ('error' in msg) throw new Error(`QMP ${command}: ${JSON.stringify(msg.error)}`);
    return msg.return;
  }

  /** `reply`, or a rejection after `timeoutMs`: the connection is then closed (answers are matched in order). */
  private async answer(reply: Promise<Record<string, unknown>>, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.sock.destroy();
        reject(new Error(`QMP ${what}: no answer from QEMU within ${timeoutMs / 1000} s`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([reply, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.sock.destroy();
  }
}
