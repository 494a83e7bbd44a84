/**
 * Structural reading of one strace call's text: splitting arguments at the top level, the return
 * value, `-yy` fd decorations (`3</path>`, `AT_FDCWD</cwd>`, `5<UDP:[a:p->b:53]>`), string arrays
 * and socket addresses.
 *
 * Input is untrusted (it comes from a VM): every function is total and linear, and returns
 * null/undefined for text it does not recognise instead of throwing.
 */
import { closingQuote, decodeEscapes, bytesToText, readQuoted, readQuotedText } from './c-string.js';

/** A call's arguments and what follows its closing parenthesis. */
export interface CallText {
  args: string[];
  /** The return text after ` = ` (e.g. `3</etc/passwd>`, `-1 ENOENT (No such file or directory)`, `?`). */
  ret: string;
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Index just past the `-yy` decoration that starts at `text[start] === '<'`. Paths in decorations
 * have `<` and `>` escaped; socket decorations contain `->`, which does not close; a device path
 * has a nested `<char 1:3>`.
 */
export function skipDecoration(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 60) depth++;
    else if (c === 62 && text.charCodeAt(i - 1) !== 45 /* - */) {
      depth--;
      if (depth === 0) return i + 1;
    } else if (c === 92) i++;
  }
  return text.length;
}

/** Whether the `<` at `i` opens a decoration: it follows an fd number or AT_FDCWD. */
function opensDecoration(text: string, i: number): boolean {
  if (i === 0) return false;
  const p = text.charCodeAt(i - 1);
  return isDigit(p) || (p === 68 /* D */ && text.endsWith('AT_FDCWD', i));
}

/**
 * Splits a comma-separated list at the top level, starting at `start` (just inside the opener) and
 * ending at the closer that balances it. Strings, nested brackets and decorations are skipped.
 * Returns null when the list is not closed on this line.
 */
export function splitList(text: string, start: number): { items: string[]; end: number } | null {
  const items: string[] = [];
  let depth = 0;
  let itemStart = start;
  for (let i = start; i < text.length; i++) {
    switch (text.charCodeAt(i)) {
      case 34: { // "
        const close = closingQuote(text, i);
        if (close < 0) return null;
        i = close;
        break;
      }
      case 60: // <
        if (opensDecoration(text, i)) i = skipDecoration(text, i) - 1;
        break;
      case 40: case 91: case 123: // ( [ {
        depth++;
        break;
      case 41: case 93: case 125: // ) ] }
        if (depth === 0) {
          const last = text.slice(itemStart, i).trim();
          if (last || items.length) items.push(last);
          return { items, end: i + 1 };
        }
        depth--;
        break;
      case 44: // ,
        if (depth === 0) {
          items.push(text.slice(itemStart, i).trim());
          itemStart = i + 1;
        }
        break;
      default:
    }
  }
  return null;
}

/**
 * Splits `ARGS) = RET` (the text after `name(`) into arguments and return text. Returns null when
 * the text is cut short.
 */
export function splitCall(text: string): CallText | null {
  const list = splitList(text, 0);
  if (!list) return null;
  const eq = text.indexOf('=', list.end);
  if (eq < 0) return null;
  return { args: list.items, ret: text.slice(eq + 1).trim() };
}

/** A parsed return value. */
export interface ReturnValue {
  /** Numeric value, when the call returned one (`?` has none). */
  value?: number;
  /** The errno name of a failed call (`ENOENT`). */
  errno?: string;
  /** The decoration's raw content of a returned fd (`/etc/passwd`, `UDP:[40045]`). */
  decoration?: string;
}

/** Parses the return text of a call. */
export function parseReturn(ret: string): ReturnValue {
  const m = /^(-?\d+|0x[0-9a-f]+)/.exec(ret);
  if (!m) return {};
  const value = m[1]!.startsWith('0x') ? Number.parseInt(m[1]!, 16) : Number(m[1]);
  const out: ReturnValue = { value };
  const rest = ret.slice(m[0].length);
  if (rest.startsWith('<')) {
    const end = skipDecoration(rest, 0);
    out.decoration = rest.slice(1, end - 1);
  } else if (value < 0) {
    const e = /^ (E[A-Z0-9]+|ERESTART\w*)/.exec(rest);
    if (e) out.errno = e[1];
  }
  return out;
}

/** The raw content of an fd argument's decoration (`3</a/b>` → `/a/b`), or undefined. */
export function decorationOf(arg: string): string | undefined {
  const lt = arg.indexOf('<');
  if (lt <= 0 || !opensDecoration(arg, lt)) return undefined;
  const end = skipDecoration(arg, lt);
  return arg.slice(lt + 1, end - 1);
}

/**
 * The path a path decoration names, decoded (`/tmp/a\74b` → `/tmp/a<b`), without a nested device
 * decoration (`/dev/null<char 1:3>` → `/dev/null`). Undefined for non-path decorations
 * (`pipe:[1]`, `TCP:[…]`).
 */
export function decorationPath(deco: string | undefined): string | undefined {
  if (!deco || deco.charCodeAt(0) !== 47 /* / */) return undefined;
  const nested = deco.indexOf('<');
  const body = nested >= 0 ? deco.slice(0, nested) : deco;
  return body.includes('\\') || /[^\x20-\x7e]/.test(body) ? bytesToText(decodeEscapes(body)) : body;
}

/** A string argument as text (`"a\tb"` → `a<TAB>b`; truncated gets `...`), or undefined. */
export function stringArg(arg: string | undefined): string | undefined {
  if (arg === undefined) return undefined;
  return readQuotedText(arg, 0)?.value;
}

/** A string argument's bytes, or undefined. */
export function bytesArg(arg: string | undefined): Uint8Array | undefined {
  if (arg === undefined) return undefined;
  return readQuoted(arg, 0)?.bytes;
}

/**
 * A string array argument (`["sh", "-c", "x"]`, or with strace's `...` for elided elements).
 * Returns undefined for `NULL` or an address strace could not read.
 */
export function stringArray(arg: string | undefined): { items: string[]; truncated: boolean } | undefined {
  if (!arg || arg.charCodeAt(0) !== 91) return undefined;
  const list = splitList(arg, 1);
  if (!list) return undefined;
  const items: string[] = [];
  let truncated = false;
  for (const item of list.items) {
    if (item === '...') {
      truncated = true;
      continue;
    }
    const s = readQuotedText(item, 0);
    if (!s) continue;
    if (s.truncated) truncated = true;
    items.push(s.value);
  }
  return { items, truncated };
}

/** An octal mode argument (`0755`, `04755`, `S_ISUID|0755`), or undefined. */
export function modeArg(arg: string | undefined): number | undefined {
  if (!arg) return undefined;
  let mode = 0;
  for (const part of arg.split('|')) {
    if (/^0[0-7]*$/.test(part)) mode |= Number.parseInt(part, 8);
    else if (part === 'S_ISUID') mode |= 0o4000;
    else if (part === 'S_ISGID') mode |= 0o2000;
    else if (part === 'S_ISVTX') mode |= 0o1000;
    else if (/^S_IF[A-Z]+$/.test(part)) continue;
    else return undefined;
  }
  return mode;
}

/** A socket address. */
export interface SockAddr {
  family: 'inet' | 'inet6' | 'unix' | 'netlink' | 'other';
  address: string;
  port?: number;
}

/**
 * Parses a sockaddr as strace prints it: `{sa_family=AF_INET, sin_port=htons(53),
 * sin_addr=inet_addr("127.0.0.1")}`, the AF_INET6 form with `inet_pton(AF_INET6, "::1", …)`,
 * `{sa_family=AF_UNIX, sun_path="/p"}` (`@"name"` for abstract). Undefined for AF_UNSPEC (a
 * disconnect) and for text that is not a sockaddr.
 */
export function parseSockAddr(text: string | undefined): SockAddr | undefined {
  if (!text || !text.startsWith('{sa_family=')) return undefined;
  const famEnd = text.indexOf(',', 11);
  const fam = text.slice(11, famEnd < 0 ? text.indexOf('}') : famEnd);
  switch (fam) {
    case 'AF_INET': {
      const m = /^\{sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([0-9.]+)"\)\}$/.exec(text);
      return m ? { family: 'inet', address: m[2]!, port: Number(m[1]) } : undefined;
    }
    case 'AF_INET6': {
      const m = /^\{sa_family=AF_INET6, sin6_port=htons\((\d+)\), .*?inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"/.exec(text);
      return m ? { family: 'inet6', address: m[2]!, port: Number(m[1]) } : undefined;
    }
    case 'AF_UNIX': {
      const at = text.indexOf('sun_path=');
      if (at < 0) return undefined; // unnamed
      const abstract = text.charCodeAt(at + 9) === 64; // @
      const s = readQuotedText(text, at + 9 + (abstract ? 1 : 0));
      return s ? { family: 'unix', address: abstract ? `@${s.value}` : s.value } : undefined;
    }
    case 'AF_NETLINK':
      return { family: 'netlink', address: /nl_pid=(\d+)/.exec(text)?.[1] ?? '0' };
    case 'AF_UNSPEC':
      return undefined;
    default:
      return { family: 'other', address: fam.slice(0, 40) };
  }
}

/** What a socket's decoration says: protocol and, when connected or bound, the endpoints. */
export interface SocketInfo {
  protocol?: 'tcp' | 'udp';
  family?: 'inet' | 'inet6' | 'unix' | 'netlink';
  local?: { address: string; port: number };
  remote?: { address: string; port: number };
}

function endpoint(text: string): { address: string; port: number } | undefined {
  const m = /^\[?([0-9a-fA-F:.]+?)\]?:(\d+)$/.exec(text);
  return m ? { address: m[1]!, port: Number(m[2]) } : undefined;
}

/**
 * Reads a socket decoration: `TCP:[40042]` (inode only), `UDP:[127.0.0.1:39727->127.0.0.1:53]`,
 * `UDPv6:[[::1]:34390->[::1]:53]`, `TCP:[127.0.0.1:57077]` (bound), `UNIX-STREAM:[…]`.
 */
export function parseSocketDecoration(deco: string | undefined): SocketInfo | undefined {
  if (!deco) return undefined;
  const colon = deco.indexOf(':[');
  if (colon < 0 || !deco.endsWith(']')) return undefined;
  const tag = deco.slice(0, colon);
  const body = deco.slice(colon + 2, -1);
  const info: SocketInfo = {};
  if (tag === 'TCP' || tag === 'TCPv6' || tag === 'UDP' || tag === 'UDPv6' || tag === 'UDPLITE' || tag === 'UDPLITEv6') {
    info.protocol = tag.startsWith('TCP') ? 'tcp' : 'udp';
    info.family = tag.endsWith('v6') ? 'inet6' : 'inet';
  } else if (tag.startsWith('UNIX')) info.family = 'unix';
  else if (tag === 'NETLINK') info.family = 'netlink';
  else return info;
  if (info.family === 'inet' || info.family === 'inet6') {
    const arrow = body.indexOf('->');
    if (arrow >= 0) {
      info.local = endpoint(body.slice(0, arrow));
      info.remote = endpoint(body.slice(arrow + 2));
    } else if (body.includes(':')) info.local = endpoint(body);
  }
  return info;
}

/**
 * Finds `needle` in `text` at or after `from`, outside quoted strings. Returns the index just after
 * it, or -1.
 */
export function findOutsideStrings(text: string, needle: string, from = 0): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const close = closingQuote(text, i);
      if (close < 0) return -1;
      i = close;
    } else if (c === needle.charCodeAt(0) && text.startsWith(needle, i)) return i + needle.length;
  }
  return -1;
}

/** The balanced `{…}` that starts at `start`, or undefined. */
export function braced(text: string, start: number): string | undefined {
  if (text.charCodeAt(start) !== 123) return undefined;
  const list = splitList(text, start + 1);
  return list ? text.slice(start, list.end) : undefined;
}
