/**
 * Translates the master's SQLite SQL into PostgreSQL, so one set of statements and migrations serves
 * both stores (pg-store.ts). Pure: no connection, no state.
 *
 * Parameters: `?` (positional) and `@name`, `:name`, `$name` (named, better-sqlite3's forms) become
 * `$1`, `$2`, … (a name used twice is one parameter); `params` says which argument each one takes.
 * String literals, quoted identifiers and comments are never touched.
 *
 * Statements: `INSERT OR IGNORE` → `ON CONFLICT DO NOTHING`; `INSERT OR REPLACE` → an upsert on the
 * table's primary key (given by the caller from the catalogue); `json_each` / `json_extract` /
 * `json_valid` → the `pyti_json_*` functions of PG_COMPAT_SQL; `instr` → `strpos`; `CROSS JOIN … ON` → `JOIN … ON`; scalar `max(a, b)` /
 * `min(a, b)` → `greatest` / `least`; `LIKE` → `ILIKE` (SQLite's LIKE ignores ASCII case); a subquery
 * in FROM without an alias gets one; `x [NOT] GLOB 'pattern'` → a regular-expression match.
 * DDL: INTEGER → BIGINT (timestamps are milliseconds), `INTEGER PRIMARY KEY [AUTOINCREMENT]` → an
 * identity column, REAL → DOUBLE PRECISION, BLOB → BYTEA; a table without an integer primary key gets
 * a hidden `rowid` identity column (SQLite's implicit rowid, used for ordering); PRAGMA statements
 * become nothing. Triggers and SQLite's table-rebuild procedure cannot be translated: such a
 * migration has a PostgreSQL override (pg-migrations.ts).
 */

/** Which argument a `$n` takes: a 0-based positional index or a name. */
export type ParamRef = { pos: number } | { name: string };

export interface TranslatedSql {
  text: string;
  params: ParamRef[];
  /** The table of an INSERT (for RETURNING the identity column as lastInsertRowid). */
  insertInto: string | null;
  /** Whether the statement already has a RETURNING clause. */
  returning: boolean;
  /** Whether the statement names `rowid` (else the hidden column is left out of `SELECT *` results). */
  mentionsRowid: boolean;
}

/** What the translator needs to know of the schema. */
export interface SchemaInfo {
  /** Primary-key columns per table (for INSERT OR REPLACE). */
  primaryKeys(table: string): string[] | undefined;
  /** Column names per table (to qualify them in ON CONFLICT DO UPDATE, where PostgreSQL finds them ambiguous). */
  columns?(table: string): string[] | undefined;
}

const NO_SCHEMA: SchemaInfo = { primaryKeys: () => undefined };

/**
 * In `ON CONFLICT … DO UPDATE SET a = f(a, …)`, SQLite reads a bare `a` as the existing row's; PostgreSQL
 * calls it ambiguous (the row or EXCLUDED). Qualifies bare column names on the right of each
 * assignment (and in a WHERE) with the table's name; the assigned columns stay bare.
 */
function qualifyUpsert(s: string, table: string, columns: string[]): string {
  const m = /\bDO\s+UPDATE\s+SET\b/i.exec(s);
  if (!m) return s;
  const head = s.slice(0, m.index + m[0].length);
  const rest = s.slice(m.index + m[0].length);
  const cols = new Set(columns.map((c) => c.toLowerCase()));
  const out = rest.replace(/\b([A-Za-z_]\w*)\b/g, (w: string, _n: string, off: number) => {
    if (!cols.has(w.toLowerCase())) return w;
    const before = rest.slice(0, off);
    const after = rest.slice(off + w.length);
    if (/(\.\s*|[@:$])$/.test(before) || /^\s*\(/.test(after)) return w;
    if ((/^\s*$/.test(before) || /,\s*$/.test(before)) && /^\s*=(?!=)/.test(after)) return w;
    return `${table}.${w}`;
  });
  return head + out;
}

/** Splits `sql` into code and protected parts (literals, quoted identifiers, comments). */
function segments(sql: string): { code: boolean; text: string }[] {
  const out: { code: boolean; text: string }[] = [];
  let code = '';
  let i = 0;
  const flush = () => { if (code) out.push({ code: true, text: code }); code = ''; };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) break;
        if (sql[j] === c) {
          if (sql[j + 1] === c) { j += 2; continue; }
          break;
        }
        j++;
      }
      flush();
      out.push({ code: false, text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const j = sql.indexOf('\n', i);
      const end = j < 0 ? sql.length : j;
      flush();
      out.push({ code: false, text: sql.slice(i, end) });
      i = end;
    } else if (c === '/' && sql[i + 1] === '*') {
      const j = sql.indexOf('*/', i + 2);
      const end = j < 0 ? sql.length : j + 2;
      flush();
      out.push({ code: false, text: sql.slice(i, end) });
      i = end;
    } else {
      code += c;
      i++;
    }
  }
  flush();
  return out;
}

/** Replaces protected parts with placeholders (\u0001n\u0002), so regular expressions see only code. */
function protect(sql: string): { masked: string; restore: (s: string) => string } {
  const kept: string[] = [];
  const masked = segments(sql).map((s) => {
    if (s.code) return s.text;
    kept.push(s.text);
    return `\u0001${kept.length - 1}\u0002`;
  }).join('');
  return {
    masked,
    restore: (s) => s.replace(/\u0001(\d+)\u0002/g, (_, n: string) => {
      const t = kept[Number(n)]!;
      // SQLite accepts "text" as a string when no such column exists; PostgreSQL never does. Backticks are identifiers.
      return t.startsWith('`') ? `"${t.slice(1, -1)}"` : t;
    }),
  };
}

/** Splits a script into statements at `;` outside literals, comments and BEGIN … END blocks. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  for (const s of segments(sql)) {
    if (!s.code) { cur += s.text; continue; }
    const parts = s.text.split(/(;|\bBEGIN\b|\bEND\b|\bCASE\b)/i);
    for (const p of parts) {
      const u = p.toUpperCase();
      if (u === 'CASE') depth++;
      else if (u === 'BEGIN') depth++;
      else if (u === 'END') depth = Math.max(0, depth - 1);
      if (p === ';' && depth === 0) {
        if (cur.trim()) out.push(cur.trim());
        cur = '';
      } else {
        cur += p;
      }
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The index just past the parenthesis closing the one at `open` (or the end). */
function closeParen(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return i + 1;
  }
  return s.length;
}

/** Whether the argument list between `(` at `open` and its `)` has a top-level comma. */
function hasTopLevelComma(s: string, open: number): boolean {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')') { if (--depth === 0) return false; }
    else if (s[i] === ',' && depth === 1) return true;
  }
  return false;
}

function scalarMinMax(s: string): string {
  return s.replace(/\b(max|min)\s*\(/gi, (m: string, fn: string, off: number) =>
    hasTopLevelComma(s, off + m.length - 1) ? (fn.toLowerCase() === 'max' ? 'greatest(' : 'least(') : m);
}

/** Gives every `FROM (`/`JOIN (` subquery without an alias one (PostgreSQL 15 requires it). */
function aliasSubqueries(s: string): string {
  let out = s;
  let n = 0;
  for (let from = 0; ;) {
    const m = /\b(FROM|JOIN)\s*\(\s*SELECT\b/gi;
    m.lastIndex = from;
    const hit = m.exec(out);
    if (!hit) break;
    const open = out.indexOf('(', hit.index);
    const end = closeParen(out, open);
    const rest = out.slice(end);
    if (/^\s*(AS\b|[A-Za-z_]\w*\b)/i.test(rest) && !/^\s*(ORDER|WHERE|GROUP|LIMIT|UNION|ON|JOIN|LEFT|INNER|CROSS|HAVING|WINDOW|EXCEPT|INTERSECT|OFFSET)\b/i.test(rest)) {
      from = open + 1;
      continue;
    }
    out = `${out.slice(0, end)} AS pyti_sq${n++}${rest}`;
    from = open + 1;
  }
  return out;
}

/** Turns a GLOB pattern (a string literal's body) into a POSIX regular expression literal. */
function globToRegex(lit: string): string {
  const body = lit.slice(1, -1).replace(/''/g, "'");
  let re = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const j = body.indexOf(']', i + 2);
      const cls = body.slice(i + 1, j < 0 ? body.length : j);
      re += `[${cls.startsWith('^') ? cls : cls}]`;
      i = j < 0 ? body.length : j;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return `'^${re.replace(/'/g, "''")}$'`;
}

/**
 * SQLite compares TEXT bytewise (its BINARY collation); a PostgreSQL database may default to a
 * language's collation, under which ORDER BY, ranges and `<`/`>` would answer differently (a key-prefix
 * range such as `k >= p AND k < p || '\uffff'` could miss rows). Text columns are therefore created
 * `COLLATE "C"`, whatever the database's default. Only the upper-case type name in DDL is rewritten.
 */
export function bytewiseText(ddl: string): string {
  return ddl.replace(/\bTEXT\b(?!\s+COLLATE)/g, 'TEXT COLLATE "C"');
}

function translateDdl(s: string): string {
  if (/^\s*ALTER\s+TABLE\b[\s\S]*\bADD\s+(COLUMN\s+)?/i.test(s)) return bytewiseText(s);
  if (!/^\s*CREATE\s+TABLE\b/i.test(s)) return s;
  let out = bytewiseText(s)
    .replace(/\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b/gi, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
    .replace(/\bINTEGER\s+PRIMARY\s+KEY\b(?!\s*\()/gi, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY');
  const hasIntegerKey = /GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY/.test(out);
  if (!hasIntegerKey) {
    const open = out.indexOf('(');
    if (open > 0) out = `${out.slice(0, open + 1)}\n    rowid BIGINT GENERATED ALWAYS AS IDENTITY,${out.slice(open + 1)}`;
  }
  return out;
}

/**
 * Translates one statement (or, for `exec`, a script: see translateScript) from SQLite to PostgreSQL.
 * Precondition: `sql` is one statement the master would run on SQLite.
 */
export function translate(sql: string, schema: SchemaInfo = NO_SCHEMA): TranslatedSql {
  const { masked, restore } = protect(sql);
  let s = masked;
  const mentionsRowid = /\browid\b/i.test(s);

  if (/^\s*PRAGMA\b/i.test(s)) return { text: '', params: [], insertInto: null, returning: false, mentionsRowid: false };

  // DDL first (before INTEGER → BIGINT), then types anywhere (CAST, DDL).
  s = translateDdl(s);
  s = s.replace(/\bINTEGER\b/gi, 'BIGINT').replace(/\bREAL\b/gi, 'DOUBLE PRECISION').replace(/\bBLOB\b/gi, 'BYTEA');

  // INSERT OR IGNORE / OR REPLACE.
  let conflict = '';
  const orIgnore = /^\s*INSERT\s+OR\s+IGNORE\s+INTO\b/i;
  const orReplace = /^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+([A-Za-z_]\w*)\s*\(([^)]*)\)/i;
  if (orIgnore.test(s)) {
    s = s.replace(/^\s*INSERT\s+OR\s+IGNORE\s+INTO\b/i, 'INSERT INTO');
    conflict = ' ON CONFLICT DO NOTHING';
  } else {
    const m = orReplace.exec(s);
    if (m) {
      const table = m[1]!;
      const cols = m[2]!.split(',').map((c) => c.trim());
      const pk = schema.primaryKeys(table);
      if (!pk) throw new Error(`INSERT OR REPLACE INTO ${table}: no primary key known on PostgreSQL; write INSERT … ON CONFLICT (…) DO UPDATE`);
      const set = cols.filter((c) => !pk.includes(c)).map((c) => `${c} = EXCLUDED.${c}`);
      s = s.replace(/^\s*INSERT\s+OR\s+REPLACE\s+INTO\b/i, 'INSERT INTO');
      conflict = ` ON CONFLICT (${pk.join(', ')}) ${set.length ? `DO UPDATE SET ${set.join(', ')}` : 'DO NOTHING'}`;
    }
  }
  const returning = /\bRETURNING\b/i.test(s);
  if (conflict) {
    const r = /\bRETURNING\b/i.exec(s);
    s = r ? `${s.slice(0, r.index)}${conflict} ${s.slice(r.index)}` : `${s.replace(/\s*;?\s*$/, '')}${conflict}`;
  }
  const ins = /^\s*INSERT\s+INTO\s+([A-Za-z_]\w*)/i.exec(s);
  if (ins && /\bDO\s+UPDATE\b/i.test(s)) {
    const cols = schema.columns?.(ins[1]!.toLowerCase());
    if (cols) s = qualifyUpsert(s, ins[1]!, cols);
  }

  // Functions and operators.
  s = s
    .replace(/\bjson_each\s*\(/gi, 'pyti_json_each(')
    .replace(/\bjson_extract\s*\(/gi, 'pyti_json_extract(')
    .replace(/\bjson_valid\s*\(/gi, 'pyti_json_valid(')
    .replace(/\binstr\s*\(/gi, 'strpos(')
    // SQLite takes `CROSS JOIN t ON …` as an inner join (fixing the join order); PostgreSQL refuses ON there.
    .replace(/\bCROSS\s+JOIN(\s+[A-Za-z_]\w*(?:\s+(?:AS\s+)?(?!ON\b)[A-Za-z_]\w*)?\s+ON\b)/gi, 'JOIN$1')
    .replace(/\bNOT\s+LIKE\b/gi, 'NOT ILIKE')
    .replace(/(?<!NOT\s+)\bLIKE\b/gi, 'ILIKE')
    .replace(/\bNOT\s+GLOB\s+\u0001(\d+)\u0002/gi, (_, n: string) => `!~ \u0003${n}\u0002`)
    .replace(/\bGLOB\s+\u0001(\d+)\u0002/gi, (_, n: string) => `~ \u0003${n}\u0002`);
  s = scalarMinMax(s);
  s = aliasSubqueries(s);

  // Parameters.
  const params: ParamRef[] = [];
  const byName = new Map<string, number>();
  let positional = 0;
  s = s.replace(/(\?|(?<![:\w$])[@:$]([A-Za-z_]\w*))(?=(\s+IS\s+(?:NOT\s+)?NULL\b)?)/gi, (m: string, _p: string, name: string | undefined, isNull: string | undefined) => {
    // `@p IS NULL` gives PostgreSQL no type for the parameter: that test gets its own parameter, as text.
    if (isNull && m !== '?') {
      params.push({ name: name! });
      return `$${params.length}::text`;
    }
    if (m === '?') {
      params.push({ pos: positional++ });
      return isNull ? `$${params.length}::text` : `$${params.length}`;
    }
    const have = byName.get(name!);
    if (have !== undefined) return `$${have}`;
    params.push({ name: name! });
    byName.set(name!, params.length);
    return `$${params.length}`;
  });

  let text = restore(s);
  // GLOB patterns: restore marked literals as regular expressions.
  text = text.replace(/\u0003(\d+)\u0002/g, (_, n: string) => globToRegex(restore(`\u0001${n}\u0002`)));
  return { text, params, insertInto: ins ? ins[1]!.toLowerCase() : null, returning, mentionsRowid };
}

/** Translates a script of statements (exec): each statement, PRAGMAs dropped, no parameters allowed. */
export function translateScript(sql: string, schema: SchemaInfo = NO_SCHEMA): string {
  return splitStatements(sql).map((st) => translate(st, schema).text).filter((t) => t.trim()).join(';\n');
}

/** The `db.function` registrations PG_COMPAT_SQL provides (pyti_normalize: PEP 503, as notify/sql-functions.ts). */
export const PG_FUNCTIONS: ReadonlySet<string> = new Set(['pyti_normalize']);

/**
 * Functions PostgreSQL needs to run the translated SQL (created by the store before migrating):
 * SQLite's JSON functions over TEXT columns, with a SQLite path (`$`, `$.a.b`), and the functions the
 * master registers on SQLite with `db.function` (PG_FUNCTIONS), written in SQL; `sum(boolean)` counts
 * true values, as SQLite's SUM over comparisons (1/0) does.
 */
export const PG_COMPAT_SQL = `
CREATE OR REPLACE FUNCTION pyti_bool_sum(acc bigint, b boolean) RETURNS bigint LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN b IS NULL THEN acc ELSE coalesce(acc, 0) + (CASE WHEN b THEN 1 ELSE 0 END) END
$f$;
CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = pyti_bool_sum, STYPE = bigint);
CREATE OR REPLACE FUNCTION pyti_normalize(name text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT lower(regexp_replace(name, '[-_.]+', '-', 'g'))
$f$;
CREATE OR REPLACE FUNCTION pyti_json_valid(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
  IF t IS NULL THEN RETURN NULL; END IF;
  PERFORM t::jsonb;
  RETURN true;
EXCEPTION WHEN others THEN
  RETURN false;
END $f$;
CREATE OR REPLACE FUNCTION pyti_json_path(p text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $f$
  SELECT CASE WHEN p = '$' THEN ARRAY[]::text[] ELSE string_to_array(substr(p, 3), '.') END
$f$;
CREATE OR REPLACE FUNCTION pyti_json_extract(t text, p text) RETURNS text LANGUAGE sql IMMUTABLE AS $f$
  SELECT (t::jsonb) #>> pyti_json_path(p)
$f$;
CREATE OR REPLACE FUNCTION pyti_json_each(t text, p text DEFAULT '$') RETURNS TABLE (key text, value text) LANGUAGE sql IMMUTABLE AS $f$
  SELECT NULL::text, e #>> '{}' FROM jsonb_array_elements(CASE WHEN jsonb_typeof((t::jsonb) #> pyti_json_path(p)) = 'array' THEN (t::jsonb) #> pyti_json_path(p) ELSE '[]'::jsonb END) AS e
  UNION ALL
  SELECT o.key, o.value #>> '{}' FROM jsonb_each(CASE WHEN jsonb_typeof((t::jsonb) #> pyti_json_path(p)) = 'object' THEN (t::jsonb) #> pyti_json_path(p) ELSE '{}'::jsonb END) AS o
$f$;
`;
