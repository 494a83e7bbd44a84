import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PytiError } from '@pyti/vm-agent';
import { decodeMethodResponse, encodeMethodCall, XmlRpcBigInt, XmlRpcFault, type XmlRpcValue } from './xmlrpc-codec.js';

const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');
const python = (code: string, input = ''): string => execFileSync('python3', ['-c', code], { input, encoding: 'utf8' });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof PytiError ? err.code : `not a PytiError: ${String(err)}`;
  }
  return undefined;
}

describe('XML-RPC codec', () => {
  it('decodes a real change-log page (arrays of arrays, nil, escaped strings)', () => {
    const v = decodeMethodResponse(fixture('changelog-page.xml')) as XmlRpcValue[][];
    expect(v).toHaveLength(13);
    expect(v[0]).toEqual(['Flask-Widgets', null, 1717243200, 'create', 23400001]);
    expect(v[12]![0]).toBe('café & <co>');
    expect(decodeMethodResponse(fixture('changelog-last-serial.xml'))).toBe(23400013);
  });

  it('decodes every XML-RPC type as Python marshals it', () => {
    const xml = python(`
import xmlrpc.client as x, datetime
v = [1, -2147483648, True, False, "t\\u00e9xt <&>", 1.5, -2.5e-7, None, x.Binary(b"\\x00\\x01bin"),
     datetime.datetime(2024, 6, 1, 12, 30, 59), [[1, [2, []]], {}], {"a": 1, "b": [None], "__proto__": "x"}]
print(x.dumps((v,), methodresponse=True, allow_none=True))`);
    const v = decodeMethodResponse(xml) as XmlRpcValue[];
    expect(v.slice(0, 8)).toEqual([1, -2147483648, true, false, 't\u00e9xt <&>', 1.5, -2.5e-7, null]);
    expect(Buffer.from(v[8] as Uint8Array).toString('latin1')).toBe('\x00\x01bin');
    expect((v[9] as Date).toISOString()).toBe('2024-06-01T12:30:59.000Z');
    expect(v[10]).toEqual([[1, [2, []]], {}]);
    const s = v[11] as Record<string, XmlRpcValue>;
    expect(Object.getPrototypeOf(s)).toBeNull();
    expect(s['a']).toBe(1);
    expect(s['b']).toEqual([null]);
    expect(s['__proto__']).toBe('x');
    expect(Object.keys(s)).toEqual(['a', 'b', '__proto__']);
  });

  it('accepts untyped values, i4, i8 and ex:nil', () => {
    const r = (inner: string): string => `<?xml version="1.0"?><methodResponse><params><param><value>${inner}</value></param></params></methodResponse>`;
    expect(decodeMethodResponse(r('plain  text'))).toBe('plain  text');
    expect(decodeMethodResponse(r(''))).toBe('');
    expect(decodeMethodResponse(r('<i4> 42 </i4>'))).toBe(42);
    expect(decodeMethodResponse(r('<i8>9007199254740991</i8>'))).toBe(9007199254740991);
    // Beyond 2^53: kept as its digits, so one value can be refused without refusing the whole answer.
    expect(decodeMethodResponse(r('<int>99999999999999999999</int>'))).toEqual(new XmlRpcBigInt('99999999999999999999'));
    expect(decodeMethodResponse(r('<ex:nil/>'))).toBeNull();
    expect(decodeMethodResponse(r('<string><![CDATA[a<b]]></string>'))).toBe('a<b');
  });

  it('turns a fault into PYTI_FEED_FAULT carrying faultCode and faultString', () => {
    let err: unknown;
    try {
      decodeMethodResponse(fixture('fault-generic.xml'), { method: 'changelog_since_serial' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XmlRpcFault);
    expect((err as XmlRpcFault).code).toBe('PYTI_FEED_FAULT');
    expect((err as XmlRpcFault).faultCode).toBe(-32601);
    expect((err as XmlRpcFault).faultString).toContain('not found');
    expect((err as Error).message).toContain('changelog_since_serial');
  });

  it('refuses a truncated, malformed, oversize or wrongly shaped answer with PYTI_FEED_MALFORMED', () => {
    const page = fixture('changelog-page.xml');
    for (const cut of [10, 100, 500, page.length - 20, page.length - 3]) expect(codeOf(() => decodeMethodResponse(page.slice(0, cut)))).toBe('PYTI_FEED_MALFORMED');
    expect(codeOf(() => decodeMethodResponse(page, { maxChars: 1000 }))).toBe('PYTI_FEED_MALFORMED');
    const r = (inner: string): string => `<methodResponse><params><param><value>${inner}</value></param></params></methodResponse>`;
    const bad = [
      '',
      'not xml at all',
      '<html><body>502 Bad Gateway</body></html>',
      r('<int>12.5</int>'),
      r('<int>1e5</int>'),
      r('<boolean>true</boolean>'),
      r('<double>NaN</double>'),
      r('<dateTime.iso8601>2024-13-45T99:00:00</dateTime.iso8601>'),
      r('<base64>@@@</base64>'),
      r('<bigdecimal>1</bigdecimal>'),
      r('<int>1</int><int>2</int>'),
      r('<array><value>1</value></array>'),
      r('<struct><member><name>a</name></member></struct>'),
      r('<string>&unknown;</string>'),
      r('<string>a & b</string>'),
      '<methodResponse><params></params></methodResponse>',
      '<methodResponse><params><param><value>1</value></param><param><value>2</value></param></params></methodResponse>',
      '<methodResponse><fault><value><string>no struct</string></value></fault></methodResponse>',
      `${r('1')}<extra/>`,
      `${r('1')} trailing text`,
      '<!DOCTYPE x [<!ENTITY a "aaaa">]><methodResponse><params><param><value>&a;</value></param></params></methodResponse>',
      '<!DOCTYPE methodResponse SYSTEM "http://evil/x.dtd"><methodResponse/>',
      r('<array><data>'.repeat(40) + '</data></array>'.repeat(40)),
    ];
    for (const b of bad) expect([b.slice(0, 60), codeOf(() => decodeMethodResponse(b))]).toEqual([b.slice(0, 60), 'PYTI_FEED_MALFORMED']);
  });

  it('encodes calls that Python xmlrpc.client reads back exactly', () => {
    const params: XmlRpcValue[] = [23400000, 'tést <&> "q"', true, null, [1, [2, 'x']], { k: 1.25, n: null }, new Uint8Array([0, 255]), new Date(Date.UTC(2024, 5, 1, 1, 2, 3))];
    const out = python(
      `
import sys, json, xmlrpc.client as x
params, method = x.loads(sys.stdin.read(), use_builtin_types=True)
def j(v):
    if isinstance(v, bytes): return {"bytes": list(v)}
    if hasattr(v, "isoformat"): return {"date": v.isoformat()}
    if isinstance(v, list): return [j(e) for e in v]
    if isinstance(v, dict): return {k: j(e) for k, e in v.items()}
    return v
print(json.dumps({"method": method, "params": j(list(params))}))`,
      encodeMethodCall('changelog_since_serial', params),
    );
    expect(JSON.parse(out)).toEqual({
      method: 'changelog_since_serial',
      params: [23400000, 'tést <&> "q"', true, null, [1, [2, 'x']], { k: 1.25, n: null }, { bytes: [0, 255] }, { date: '2024-06-01T01:02:03' }],
    });
    // And the exact layout of Python's dumps for the call PyTI makes.
    expect(encodeMethodCall('changelog_since_serial', [5])).toBe(python(`import xmlrpc.client as x; print(x.dumps((5,), "changelog_since_serial"), end="")`));
  });

  it('refuses what it cannot encode', () => {
    expect(codeOf(() => encodeMethodCall('bad method', []))).toBe('PYTI_FEED_MALFORMED');
    expect(codeOf(() => encodeMethodCall('m', [2 ** 31]))).toBe('PYTI_FEED_MALFORMED');
    expect(codeOf(() => encodeMethodCall('m', ['\x00']))).toBe('PYTI_FEED_MALFORMED');
  });
});
