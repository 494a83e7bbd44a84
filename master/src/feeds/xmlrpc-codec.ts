/**
 * A small strict XML-RPC codec (http://xmlrpc.com/spec.md, with the `nil` extension Python's
 * `xmlrpc.client` and PyPI use): encodes method calls and decodes method responses.
 *
 * Values: `int`/`i4`/`i8` → number (a safe integer), `boolean` → boolean, `string` or untyped
 * `<value>` → string, `double` → number, `dateTime.iso8601` → Date (UTC; the format has no zone),
 * `base64` → Uint8Array, `array` → array, `struct` → object (null prototype), `nil` → null.
 * A response that is not well-formed, truncated, oversize or not this shape is
 * `PYTI_FEED_MALFORMED`; a `<fault>` is thrown as {@link XmlRpcFault} (`PYTI_FEED_FAULT`).
 */
import { PytiError } from '@pyti/vm-agent';
import { elementChildren, parseXml, textOf, type XmlElement } from './xml-tree.js';

/** A value XML-RPC can carry. */
export type XmlRpcValue = number | string | boolean | null | Date | Uint8Array | XmlRpcBigInt | XmlRpcValue[] | XmlRpcStruct;

/**
 * An `<int>`/`<i8>` whose value is not a safe integer (beyond ±2^53): kept as its digits so that a
 * caller can refuse that one value (e.g. quarantine one change-log entry) rather than the whole answer.
 * Never sent.
 */
export class XmlRpcBigInt {
  constructor(readonly digits: string) {}
}
export interface XmlRpcStruct {
  [member: string]: XmlRpcValue;
}

/** An XML-RPC fault answer: `PYTI_FEED_FAULT` carrying the fault's code and string. */
export class XmlRpcFault extends PytiError {
  constructor(readonly faultCode: number, readonly faultString: string, method?: string) {
    super('PYTI_FEED_FAULT', `XML-RPC fault ${faultCode}${method ? ` from ${method}` : ''}: ${faultString.slice(0, 500)}`);
  }
}

export interface DecodeOptions {
  /** Largest answer accepted, in characters. Default 64 MiB (a 50,000-entry change-log page is about 20 MB). */
  maxChars?: number;
  /** Deepest value nesting (arrays of arrays…). Default 32. */
  maxDepth?: number;
  /** Longest string or base64 value. Default 1 MiB. */
  maxStringChars?: number;
  /** Named in fault messages. */
  method?: string;
}

export const DEFAULT_MAX_RESPONSE_CHARS = 64 * 1024 * 1024;
const WHAT = 'XML-RPC answer';
const METHOD_NAME = /^[A-Za-z0-9_.:/]{1,200}$/;
const INT = /^[+-]?[0-9]{1,100}$/;
const DOUBLE = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$/;
const DATETIME = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?Z?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function malformed(why: string): PytiError {
  return new PytiError('PYTI_FEED_MALFORMED', `${WHAT}: ${why}`);
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function encodeValue(v: XmlRpcValue, depth: number, out: string[]): void {
  if (depth > 32) throw new PytiError('PYTI_FEED_MALFORMED', 'XML-RPC call: parameters nested too deep');
  if (v === null) out.push('<value><nil/></value>');
  else if (typeof v === 'boolean') out.push(`<value><boolean>${v ? 1 : 0}</boolean></value>`);
  else if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) out.push(`<value><int>${v}</int></value>`);
    else if (Number.isFinite(v) && !Number.isInteger(v)) out.push(`<value><double>${v}</double></value>`);
    else throw new PytiError('PYTI_FEED_MALFORMED', `XML-RPC call: ${v} cannot be sent (XML-RPC ints are 32-bit)`);
  } else if (typeof v === 'string') {
    if (/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/.test(v)) throw new PytiError('PYTI_FEED_MALFORMED', 'XML-RPC call: a string holds characters XML cannot carry');
    out.push(`<value><string>${escapeText(v)}</string></value>`);
  } else if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new PytiError('PYTI_FEED_MALFORMED', 'XML-RPC call: invalid date');
    out.push(`<value><dateTime.iso8601>${v.toISOString().slice(0, 19).replace(/-/g, '')}</dateTime.iso8601></value>`);
  } else if (v instanceof XmlRpcBigInt) {
    throw new PytiError('PYTI_FEED_MALFORMED', `XML-RPC call: ${v.digits.slice(0, 30)} cannot be sent (XML-RPC ints are 32-bit)`);
  } else if (v instanceof Uint8Array) {
    out.push(`<value><base64>${Buffer.from(v).toString('base64')}</base64></value>`);
  } else if (Array.isArray(v)) {
    out.push('<value><array><data>\n');
    for (const e of v) {
      encodeValue(e, depth + 1, out);
      out.push('\n');
    }
    out.push('</data></array></value>');
  } else {
    out.push('<value><struct>\n');
    for (const [k, e] of Object.entries(v)) {
      out.push(`<member>\n<name>${escapeText(k)}</name>\n`);
      encodeValue(e, depth + 1, out);
      out.push('\n</member>\n');
    }
    out.push('</struct></value>');
  }
}

/** The XML of a `methodCall` (the same layout as Python's `xmlrpc.client.dumps`). */
export function encodeMethodCall(method: string, params: readonly XmlRpcValue[]): string {
  if (!METHOD_NAME.test(method)) throw new PytiError('PYTI_FEED_MALFORMED', `XML-RPC call: ${JSON.stringify(method.slice(0, 50))} is not a method name`);
  const out: string[] = ["<?xml version='1.0'?>\n<methodCall>\n", `<methodName>${method}</methodName>\n<params>\n`];
  for (const p of params) {
    out.push('<param>\n');
    encodeValue(p, 0, out);
    out.push('\n</param>\n');
  }
  out.push('</params>\n</methodCall>\n');
  return out.join('');
}

interface Ctx {
  maxDepth: number;
  maxString: number;
}

function decodeValue(el: XmlElement, depth: number, ctx: Ctx): XmlRpcValue {
  if (el.name !== 'value') throw malformed(`expected <value>, found <${el.name}>`);
  if (depth > ctx.maxDepth) throw malformed(`values nested deeper than ${ctx.maxDepth}`);
  const typed = el.children.filter((c): c is XmlElement => typeof c !== 'string');
  if (typed.length === 0) {
    const s = textOf(el, WHAT);
    if (s.length > ctx.maxString) throw malformed(`a string longer than ${ctx.maxString} characters`);
    return s;
  }
  const [t] = elementChildren(el, WHAT);
  if (typed.length !== 1 || !t) throw malformed('<value> must hold exactly one typed element');
  switch (t.name) {
    case 'int':
    case 'i4':
    case 'i8': {
      const s = textOf(t, WHAT).trim();
      const n = Number(s);
      if (!INT.test(s)) throw malformed(`<${t.name}>${s.slice(0, 30)}</${t.name}> is not an integer`);
      return Number.isSafeInteger(n) ? n : new XmlRpcBigInt(s);
    }
    case 'boolean': {
      const s = textOf(t, WHAT).trim();
      if (s !== '0' && s !== '1') throw malformed(`<boolean>${s.slice(0, 30)}</boolean> is not 0 or 1`);
      return s === '1';
    }
    case 'string': {
      const s = textOf(t, WHAT);
      if (s.length > ctx.maxString) throw malformed(`a string longer than ${ctx.maxString} characters`);
      return s;
    }
    case 'double': {
      const s = textOf(t, WHAT).trim();
      if (!DOUBLE.test(s)) throw malformed(`<double>${s.slice(0, 30)}</double> is not a number`);
      return Number(s);
    }
    case 'dateTime.iso8601': {
      const s = textOf(t, WHAT).trim();
      const m = DATETIME.exec(s);
      const d = m ? new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)) : undefined;
      if (!d || Number.isNaN(d.getTime()) || d.getUTCDate() !== +m![3]! || +m![4]! > 23 || +m![5]! > 59 || +m![6]! > 60) {
        throw malformed(`<dateTime.iso8601>${s.slice(0, 30)}</dateTime.iso8601> is not a date`);
      }
      return d;
    }
    case 'base64': {
      const s = textOf(t, WHAT).replace(/\s+/g, '');
      if (s.length > ctx.maxString) throw malformed(`a base64 value longer than ${ctx.maxString} characters`);
      if (!BASE64.test(s) || s.length % 4 !== 0) throw malformed('<base64> is not base64');
      return new Uint8Array(Buffer.from(s, 'base64'));
    }
    case 'nil':
    case 'ex:nil':
      if (t.children.length > 0 && textOf(t, WHAT).trim() !== '') throw malformed('<nil> must be empty');
      return null;
    case 'array': {
      const [data, ...rest] = elementChildren(t, WHAT);
      if (!data || data.name !== 'data' || rest.length > 0) throw malformed('<array> must hold one <data>');
      return elementChildren(data, WHAT).map((v) => decodeValue(v, depth + 1, ctx));
    }
    case 'struct': {
      const out = Object.create(null) as XmlRpcStruct;
      for (const m of elementChildren(t, WHAT)) {
        const [name, value, ...rest] = elementChildren(m, WHAT);
        if (m.name !== 'member' || !name || name.name !== 'name' || !value || rest.length > 0) throw malformed('<struct> members must be <member><name/><value/></member>');
        const key = textOf(name, WHAT);
        if (key.length > 1000) throw malformed('a struct member name longer than 1000 characters');
        out[key] = decodeValue(value, depth + 1, ctx);
      }
      return out;
    }
    default:
      throw malformed(`unknown value type <${t.name.slice(0, 50)}>`);
  }
}

/**
 * Decodes a `methodResponse`: returns its one value, or throws {@link XmlRpcFault} for a fault and
 * `PYTI_FEED_MALFORMED` for anything else (not XML, truncated, oversize, another shape).
 */
export function decodeMethodResponse(xml: string, opts: DecodeOptions = {}): XmlRpcValue {
  const root = parseXml(xml, { maxChars: opts.maxChars ?? DEFAULT_MAX_RESPONSE_CHARS, what: WHAT, maxDepth: 3 * (opts.maxDepth ?? 32) + 8 });
  const ctx: Ctx = { maxDepth: opts.maxDepth ?? 32, maxString: opts.maxStringChars ?? 1024 * 1024 };
  if (root.name !== 'methodResponse') throw malformed(`the root element is <${root.name}>, not <methodResponse>`);
  const [body, ...rest] = elementChildren(root, WHAT);
  if (!body || rest.length > 0) throw malformed('<methodResponse> must hold one <params> or <fault>');
  if (body.name === 'fault') {
    const [value, ...more] = elementChildren(body, WHAT);
    if (!value || more.length > 0) throw malformed('<fault> must hold one <value>');
    const f = decodeValue(value, 0, ctx);
    const code = typeof f === 'object' && f !== null && !Array.isArray(f) && !(f instanceof Date) && !(f instanceof Uint8Array) && !(f instanceof XmlRpcBigInt) ? f['faultCode'] : undefined;
    const text = typeof f === 'object' && f !== null ? (f as XmlRpcStruct)['faultString'] : undefined;
    if (typeof code !== 'number' || typeof text !== 'string') throw malformed('a fault must be a struct with faultCode (int) and faultString (string)');
    throw new XmlRpcFault(code, text, opts.method);
  }
  if (body.name !== 'params') throw malformed(`<methodResponse> holds <${body.name}>, not <params> or <fault>`);
  const [param, ...more] = elementChildren(body, WHAT);
  if (!param || param.name !== 'param' || more.length > 0) throw malformed('a response must hold exactly one <param>');
  const [value, ...extra] = elementChildren(param, WHAT);
  if (!value || extra.length > 0) throw malformed('<param> must hold one <value>');
  return decodeValue(value, 0, ctx);
}
