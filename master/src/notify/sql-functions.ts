/** SQL functions the notification queries use, registered on the master's database connection. */
import type { Db } from '../db/database.js';
import { normalizeName } from '../feeds/pep.js';

/** Registers `pyti_normalize(name)` (PEP 503 normalization); idempotent. */
export function registerSqlFunctions(db: Db): void {
  db.function('pyti_normalize', { deterministic: true }, (name: unknown) => (typeof name === 'string' ? normalizeName(name) : null));
}
