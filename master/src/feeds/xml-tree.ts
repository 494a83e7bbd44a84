/**
 * A small strict XML reader for what the feeds send (XML-RPC answers, RSS): elements, attributes,
 * text, CDATA, comments and the XML declaration, with size, depth and node-count caps.
 *
 * Security: the input is untrusted. Only the five predefined entities and character references are
 * decoded; any other entity reference is an error, and a DOCTYPE is refused unless the caller allows
 * one without an internal subset (RSS 0.91 as PyPI serves it names an external DTD, which is never
 * fetched). Not well-formed input (a truncated answer, mismatched tags, text after the root) is an
 * error. Errors are `PytiError('PYTI_FEED_MALFORMED')`.
 */
import { PytiError } from '@pyti/vm-agent';

/** One element: its name, attributes and children (elements and text, in document order). */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

export interface XmlLimits {
  /** Largest document, in UTF-16 code units (about bytes for these ASCII formats). */
  maxChars: number;
  /** Deepest element nesting. Default 64. */
  maxDepth?: number;
  /** Most elements in all. Default 5,000,000. */
  maxElements?: number;
  /** Accept `<!DOCTYPE name PUBLIC|SYSTEM "…" "…">` (never an internal subset `[…]`). Default false. */
  allowDoctype?: boolean;
  /** Named in error messages ("XML-RPC answer", "RSS feed"). */
  what: string;
}

const NAME = /[A-Za-z_][A-Za-z0-9._:-]*/y;
const ATTR = /\s+([A-Za-z_][A-Za-z0-9._:-]*)\s*=\s*("[^"<]*"|'[^'<]*')/y;
const DOCTYPE = /<!DOCTYPE\s+[A-Za-z_][A-Za-z0-9._:-]*(\s+(PUBLIC\s+("[^"]*"|'[^']*')\s+("[^"]*"|'[^']*')|SYSTEM\s+("[^"]*"|'[^']*')))?\s*>/y;
const XML_DECL = /<\?xml(\s+[^?]*)?\?>/y;
/** Shared by every element without attributes (most of them): saves an object per element. */
const NO_ATTRS: Record<string, string> = Object.freeze(Object.create(null) as Record<string, string>);
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function fail(what: string, why: string, at?: number): PytiError {
  return new PytiError('PYTI_FEED_MALFORMED', `${what}: ${why}${at === undefined ? '' : ` at offset ${at}`}`);
}

/** Decodes the predefined entities and character references of a text or attribute value. */
export function decodeXmlText(raw: string, what: string): string {
  if (!raw.includes('&')) return raw;
  return raw.replace(/&([^;&\s]{0,12});?/g, (m, ref: string) => {
    if (!m.endsWith(';')) throw fail(what, `bare "&" in text`);
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      const digits = ref[1] === 'x' ? /^#x[0-9A-Fa-f]{1,6}$/ : /^#[0-9]{1,7}$/;
      if (!digits.test(ref) || !(cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0x10ffff && cp !== 0xfffe && cp !== 0xffff))) {
        throw fail(what, `invalid character reference &${ref.slice(0, 12)};`);
      }
      return String.fromCodePoint(cp);
    }
    const v = PREDEFINED[ref];
    if (v === undefined) throw fail(what, `unknown entity &${ref.slice(0, 12)}; (only the XML predefined entities are accepted)`);
    return v;
  });
}

/** Parses a whole document and returns its root element; throws PYTI_FEED_MALFORMED. */
export function parseXml(text: string, limits: XmlLimits): XmlElement {
  const { what } = limits;
  const maxDepth = limits.maxDepth ?? 64;
  const maxElements = limits.maxElements ?? 5_000_000;
  if (text.length > limits.maxChars) throw fail(what, `larger than ${limits.maxChars} characters`);
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  XML_DECL.lastIndex = i;
  if (XML_DECL.exec(text)) i = XML_DECL.lastIndex;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  let sawDoctype = false;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const end = lt === -1 ? n : lt;
    if (end > i) {
      const raw = text.slice(i, end);
      const top = stack[stack.length - 1];
      if (top) top.children.push(decodeXmlText(raw, what));
      else if (raw.trim() !== '') throw fail(what, 'text outside the root element', i);
      if (raw.includes(']]>')) throw fail(what, '"]]>" in text', i);
    }
    if (lt === -1) break;
    i = lt;
    const c = text[i + 1];
    if (c === '/') {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(text);
      const close = m ? text.indexOf('>', NAME.lastIndex) : -1;
      if (!m || close === -1 || text.slice(NAME.lastIndex, close).trim() !== '') throw fail(what, 'bad or truncated end tag', i);
      const top = stack.pop();
      if (!top || top.name !== m[0]) throw fail(what, `end tag </${m[0]}> does not match ${top ? `<${top.name}>` : 'any open element'}`, i);
      i = close + 1;
      if (stack.length === 0) root = top;
    } else if (c === '!') {
      if (text.startsWith('<!--', i)) {
        const close = text.indexOf('-->', i + 4);
        if (close === -1) throw fail(what, 'unterminated comment', i);
        i = close + 3;
      } else if (text.startsWith('<![CDATA[', i)) {
        const close = text.indexOf(']]>', i + 9);
        if (close === -1) throw fail(what, 'unterminated CDATA section', i);
        const top = stack[stack.length - 1];
        if (!top) throw fail(what, 'CDATA outside the root element', i);
        top.children.push(text.slice(i + 9, close));
        i = close + 3;
      } else if (text.startsWith('<!DOCTYPE', i)) {
        DOCTYPE.lastIndex = i;
        if (!limits.allowDoctype || sawDoctype || stack.length > 0 || root || !DOCTYPE.exec(text)) {
          throw fail(what, 'a DOCTYPE is not accepted here (internal subsets and entity declarations never are)', i);
        }
        sawDoctype = true;
        i = DOCTYPE.lastIndex;
      } else {
        throw fail(what, 'unexpected markup declaration', i);
      }
    } else if (c === '?') {
      const close = text.indexOf('?>', i + 2);
      if (close === -1) throw fail(what, 'unterminated processing instruction', i);
      i = close + 2;
    } else {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(text);
      if (!m) throw fail(what, 'bad tag', i);
      if (root) throw fail(what, 'a second root element', i);
      let j = NAME.lastIndex;
      let attrs = NO_ATTRS;
      for (;;) {
        ATTR.lastIndex = j;
        const a = ATTR.exec(text);
        if (!a) break;
        if (attrs === NO_ATTRS) attrs = Object.create(null) as Record<string, string>;
        if (a[1]! in attrs) throw fail(what, `duplicate attribute ${a[1]}`, j);
        attrs[a[1]!] = decodeXmlText(a[2]!.slice(1, -1), what);
        j = ATTR.lastIndex;
      }
      while (j < n && /\s/.test(text[j]!)) j++;
      const selfClosing = text[j] === '/';
      if (selfClosing) j++;
      if (text[j] !== '>') throw fail(what, j >= n ? 'truncated start tag' : `bad start tag <${m[0]}>`, i);
      i = j + 1;
      if (++elements > maxElements) throw fail(what, `more than ${maxElements} elements`);
      const el: XmlElement = { name: m[0], attrs, children: [] };
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      if (selfClosing) {
        if (!parent) root = el;
      } else {
        stack.push(el);
        if (stack.length > maxDepth) throw fail(what, `nested deeper than ${maxDepth} elements`, i);
      }
    }
  }
  if (stack.length > 0) throw fail(what, `truncated: <${stack[stack.length - 1]!.name}> is never closed`);
  if (!root) throw fail(what, 'no root element');
  return root;
}

/** The element children of `el` (whitespace between them is ignored; other text is an error). */
export function elementChildren(el: XmlElement, what: string): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (typeof c !== 'string') out.push(c);
    else if (c.trim() !== '') throw fail(what, `unexpected text in <${el.name}>`);
  }
  return out;
}

/** The text content of an element that must hold only text. */
export function textOf(el: XmlElement, what: string): string {
  let s = '';
  for (const c of el.children) {
    if (typeof c !== 'string') throw fail(what, `<${el.name}> must hold text, not <${c.name}>`);
    s += c;
  }
  return s;
}
