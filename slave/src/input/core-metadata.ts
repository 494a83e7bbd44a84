/** Reads the fields PyTI needs from core metadata (PKG-INFO / METADATA, RFC 822 style headers). */

export interface CoreMetadata {
  name: string;
  version: string;
  summary?: string;
  requiresPython?: string;
  requiresDist: string[];
  metadataVersion?: string;
}

/** Parses the header block; returns null when Name or Version is missing. */
export function parseCoreMetadata(text: string): CoreMetadata | null {
  const headers: [string, string][] = [];
  for (const line of text.slice(0, 1024 * 1024).split(/\r?\n/)) {
    if (line === '') break; // the body (long description) starts here
    if (/^[ \t]/.test(line) && headers.length) {
      headers[headers.length - 1]![1] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i > 0) headers.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
  }
  const get = (k: string): string | undefined => headers.find(([h]) => h === k)?.[1];
  const name = get('name');
  const version = get('version');
  if (!name || !version) return null;
  return {
    name: name.slice(0, 200), version: version.slice(0, 100), summary: get('summary')?.slice(0, 500),
    requiresPython: get('requires-python')?.slice(0, 200),
    requiresDist: headers.filter(([h]) => h === 'requires-dist').map(([, v]) => v.slice(0, 500)).slice(0, 500),
    metadataVersion: get('metadata-version'),
  };
}
