/**
 * XML-RPC on the wire, as pypi.org speaks it. pypi.org's `/pypi` endpoint is pyramid_rpc rendering
 * with Python's `xmlrpc.client.dumps(..., methodresponse=True, allow_none=True)` (warehouse
 * `config.py`: `XMLRPCRenderer(allow_none=True)`), so answers are written byte for byte as that
 * Marshaller writes them: `<?xml version='1.0'?>`, one element per line, `<nil/>` for None (with
 * no line break after it, a quirk of the Marshaller), `&`, `<`, `>` escaped. Calls are parsed
 * strictly (http://xmlrpc.com/spec.md): anything not well-formed is a parse error.
 */

/** An XML-RPC value. `null` is `<nil/>`; integers are numbers (doubles are `{ double }`). */
export type XmlRpcValue = null | boolean | number | string | { double: number } | RawXmlRpcInt | XmlRpcValue[] | { [key: string]: XmlRpcValue };

/**
 * Test-only (fault injection): an `<int>` written with exactly these digits, even beyond what
 * XML-RPC's 32-bit ints allow, as a broken or hostile index might send it.
 */
export class RawXmlRpcInt {
  constructor(readonly digits: string) {}
}

/** A fault answer (`faultCode`, `faultString`). */
export class XmlRpcFault extends Error {
  constructor(readonly faultCode: number, readonly faultString: string) {
    super(faultString);
  }
}

/** pyramid_rpc's fault for a body that is not an XML-RPC call. */
export const PARSE_ERROR = (): XmlRpcFault => new XmlRpcFault(-32700, 'parse error; not well formed');

/** Python's `xmlrpc.client.escape`. */
function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function dumpValue(v: XmlRpcValue, out: string[]): void {
  if (v === null) out.push('<value><nil/></value>');
  else if (typeof v === 'boolean') out.push(`<value><boolean>${v ? 1 : 0}</boolean></value>\n`);
  else if (v instanceof RawXmlRpcInt) out.push(`<value><int>${v.digits}</int></value>\n`);
  else if (typeof v === 'number') {
    if (!Number.isInteger(v) || v > 2 ** 31 - 1 || v < -(2 ** 31)) throw new Error(`int exceeds XML-RPC limits: ${v}`);
    out.push(`<value><int>${v}</int></value>\n`);
  } else if (typeof v === 'string') out.push(`<value><string>${escape(v)}</string></value>\n`);
  else if (Array.isArray(v)) {
    out.push('<value><array><data>\n');
    for (const item of v) dumpValue(item, out);
    out.push('</data></array></value>\n');
  } else if ('double' in v && typeof v.double === 'number' && Object.keys(v).length === 1) out.push(`<value><double>${v.double}</double></value>\n`);
  else {
    out.push('<value><struct>\n');
    for (const [k, item] of Object.entries(v)) {
      out.push(`<member>\n<name>${escape(k)}</name>\n`);
      dumpValue(item, out);
      out.push('</member>\n');
    }
    out.push('</struct></value>\n');
  }
}

/** A `methodResponse` carrying `value`. */
export function encodeResponse(value: XmlRpcValue): string {
  const out = ["<?xml version='1.0'?>\n", '<methodResponse>\n', '<params>\n', '<param>\n'];
  dumpValue(value, out);
  out.push('</param>\n', '</params>\n', '</methodResponse>\n');
  return out.join('');
}

/** A `methodResponse` carrying a fault. */
export function encodeFault(fault: XmlRpcFault): string {
  const out = ["<?xml version='1.0'?>\n", '<methodResponse>\n', '<fault>\n'];
  dumpValue({ faultCode: fault.faultCode, faultString: fault.faultString }, out);
  out.push('</fault>\n', '</methodResponse>\n');
  return out.join('');
}

interface XmlElement {
  tag: string;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, ref: string | undefined) => {
    if (!ref) throw PARSE_ERROR();
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(code >= 0 && code <= 0x10ffff)) throw PARSE_ERROR();
      return String.fromCodePoint(code);
    }
    const c = ENTITIES[ref];
    if (c === undefined) throw PARSE_ERROR();
    return c;
  });
}

const OPEN_TAG = /<([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
const CLOSE_TAG = /<\/([A-Za-z_][\w.:-]*)\s*>/y;
const SPACE = /\s*/y;

/** Matches a sticky regex at `i`. */
function at(re: RegExp, s: string, i: number): RegExpExecArray | null {
  re.lastIndex = i;
  return re.exec(s);
}

/** Parses a small XML document (what XML-RPC uses; attributes are ignored) into elements; throws PARSE_ERROR. */
function parseXml(xml: string): XmlElement {
  let i = 0;
  const skipMisc = (): void => {
    for (;;) {
      i += at(SPACE, xml, i)![0].length;
      if (xml.startsWith('<?', i)) {
        const end = xml.indexOf('?>', i);
        if (end < 0) throw PARSE_ERROR();
        i = end + 2;
      } else if (xml.startsWith('<!--', i)) {
        const end = xml.indexOf('-->', i);
        if (end < 0) throw PARSE_ERROR();
        i = end + 3;
      } else return;
    }
  };
  const element = (): XmlElement => {
    const open = at(OPEN_TAG, xml, i);
    if (!open) throw PARSE_ERROR();
    i += open[0].length;
    const el: XmlElement = { tag: open[1]!, children: [], text: '' };
    if (open[3]) return el;
    for (;;) {
      const lt = xml.indexOf('<', i);
      if (lt < 0) throw PARSE_ERROR();
      el.text += decodeText(xml.slice(i, lt));
      i = lt;
      if (xml.startsWith('</', i)) {
        const close = at(CLOSE_TAG, xml, i);
        if (!close || close[1] !== el.tag) throw PARSE_ERROR();
        i += close[0].length;
        return el;
      }
      if (xml.startsWith('<![CDATA[', i)) {
        const end = xml.indexOf(']]>', i);
        if (end < 0) throw PARSE_ERROR();
        el.text += xml.slice(i + 9, end);
        i = end + 3;
      } else if (xml.startsWith('<!--', i)) {
        const end = xml.indexOf('-->', i);
        if (end < 0) throw PARSE_ERROR();
        i = end + 3;
      } else el.children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== xml.length) throw PARSE_ERROR();
  return root;
}

function only(el: XmlElement, tag: string): XmlElement {
  if (el.children.length !== 1 || el.children[0]!.tag !== tag) throw PARSE_ERROR();
  return el.children[0]!;
}

function decodeValue(value: XmlElement): XmlRpcValue {
  if (value.tag !== 'value') throw PARSE_ERROR();
  if (value.children.length === 0) return value.text; // no type element: a string
  const t = only(value, value.children[0]!.tag);
  const text = t.text.trim();
  switch (t.tag) {
    case 'int': case 'i4': case 'i8': case 'i1': case 'i2': case 'biginteger':
      if (!/^[-+]?\d+$/.test(text)) throw PARSE_ERROR();
      return Number(text);
    case 'boolean':
      if (text !== '0' && text !== '1') throw PARSE_ERROR();
      return text === '1';
    case 'string':
      return t.text;
    case 'double': case 'float':
      if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw PARSE_ERROR();
      return { double: Number(text) };
    case 'nil':
      return null;
    case 'array':
      return only(t, 'data').children.map(decodeValue);
    case 'struct': {
      const out: Record<string, XmlRpcValue> = {};
      for (const m of t.children) {
        const name = m.children.find((c) => c.tag === 'name');
        const v = m.children.find((c) => c.tag === 'value');
        if (m.tag !== 'member' || !name || !v || m.children.length !== 2) throw PARSE_ERROR();
        out[name.text] = decodeValue(v);
      }
      return out;
    }
    default:
      throw PARSE_ERROR();
  }
}

/** Parses a `methodCall` document; throws PARSE_ERROR (a fault) when it is not one. */
export function decodeCall(xml: string): { method: string; params: XmlRpcValue[] } {
  const root = parseXml(xml);
  if (root.tag !== 'methodCall') throw PARSE_ERROR();
  const name = root.children.find((c) => c.tag === 'methodName');
  const params = root.children.find((c) => c.tag === 'params');
  if (!name || root.children.some((c) => c !== name && c !== params)) throw PARSE_ERROR();
  return {
    method: name.text.trim(),
    params: (params?.children ?? []).map((p) => {
      if (p.tag !== 'param') throw PARSE_ERROR();
      return decodeValue(only(p, 'value'));
    }),
  };
}
