/**
 * The source of the worker thread that owns the PostgreSQL connection of a PgStore (pg-store.ts).
 * It is plain JavaScript run with `new Worker(source, { eval: true })`, so it runs the same from the
 * TypeScript sources (tests) and from dist. It loads `pg` from the path it is given (workerData.pg).
 *
 * Protocol: the main thread posts `{ op, sql, params }` on `workerData.port` and blocks on
 * `Atomics.wait(flag, 0, 0)`; the worker runs the request on its one connection, posts the answer on
 * the port, then sets flag[0] = 1 and notifies. Answers: `{ ok: true, rows, rowCount }` or
 * `{ ok: false, error: { message, code, detail } }`. A dead connection makes every later request fail.
 *
 * Notifications: the connection LISTENs on `workerData.listen` from the start; each NOTIFY is posted
 * on `workerData.events` (the main thread reads it asynchronously, when it is not waiting).
 *
 * Types: BIGINT and NUMERIC come back as JS numbers (timestamps are milliseconds, well inside 2^53),
 * booleans as 1/0 (as SQLite gives them).
 */
export const PG_WORKER_SOURCE = String.raw`
const { workerData } = require('node:worker_threads');
const { pathToFileURL } = require('node:url');
const { port, events, flag, url, pg: pgPath, listen } = workerData;
const state = new Int32Array(flag);
function reply(msg) {
  port.postMessage(msg);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}
let clientP = null;
let broken = null;
async function client() {
  if (!clientP) {
    clientP = (async () => {
      const mod = await import(pathToFileURL(pgPath).href);
      const pg = mod.default || mod;
      pg.types.setTypeParser(20, (v) => Number(v));
      pg.types.setTypeParser(1700, (v) => Number(v));
      pg.types.setTypeParser(16, (v) => (v === 't' ? 1 : 0));
      const c = new pg.Client({ connectionString: url, application_name: 'pyti-master' });
      c.on('error', (err) => { broken = err; });
      c.on('notification', (n) => events.postMessage({ channel: n.channel, payload: n.payload }));
      await c.connect();
      for (const ch of listen) await c.query('LISTEN ' + ch);
      return c;
    })();
  }
  return clientP;
}
function errorOf(err) {
  return { message: String(err && err.message || err), code: err && err.code, detail: err && err.detail, constraint: err && err.constraint };
}
port.on('message', async (req) => {
  try {
    if (broken) throw broken;
    const c = await client();
    if (req.op === 'close') {
      await c.end().catch(() => undefined);
      reply({ ok: true, rows: [], rowCount: 0 });
      return;
    }
    if (req.op === 'exec') {
      await c.query(req.sql);
      reply({ ok: true, rows: [], rowCount: 0 });
      return;
    }
    // A statement that may fail inside a transaction runs under a savepoint, so that a caught error
    // (a unique violation the caller handles) does not abort the whole transaction, as on SQLite.
    if (req.guard) {
      await c.query('SAVEPOINT pyti_stmt');
      try {
        const r = await c.query({ text: req.sql, values: req.params });
        await c.query('RELEASE SAVEPOINT pyti_stmt');
        reply({ ok: true, rows: r.rows, rowCount: r.rowCount || 0 });
      } catch (err) {
        await c.query('ROLLBACK TO SAVEPOINT pyti_stmt').catch(() => undefined);
        await c.query('RELEASE SAVEPOINT pyti_stmt').catch(() => undefined);
        throw err;
      }
      return;
    }
    const r = await c.query({ text: req.sql, values: req.params });
    reply({ ok: true, rows: r.rows, rowCount: r.rowCount || 0 });
  } catch (err) {
    reply({ ok: false, error: errorOf(err) });
  }
});
`;
