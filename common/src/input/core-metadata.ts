/**
 * Reads core metadata (PKG-INFO / METADATA, RFC 822 style headers) robustly: UTF-8, else latin-1
 * (old PKG-INFO files); CRLF or CR line ends; folded continuation lines; the Description as the
 * body or as a header (setuptools' `        |` continuation prefix removed). Every value is capped:
 * the text comes from an untrusted archive. Kept in step with tasks/guest/inspect_dist.py's
 * parse_metadata (a test compares the two on every metadata file of the guest image).
 */

/** A `Project-URL` entry: `Label, URL`. */
export interface ProjectUrl {
  label: string;
  url: string;
}

/** The core-metadata fields the report shows. Absent fields (or `UNKNOWN`) are left out. */
export interface CoreMetadata {
  name: string;
  version: string;
  summary?: string;
  /** The long description (body or header), at most MAX_DESCRIPTION characters. */
  description?: string;
  /** Set when the description was longer than MAX_DESCRIPTION. */
  descriptionTruncated?: boolean;
  descriptionContentType?: string;
  author?: string;
  authorEmail?: string;
  maintainer?: string;
  maintainerEmail?: string;
  license?: string;
  /** PEP 639 `License-Expression` (SPDX). */
  licenseExpression?: string;
  keywords?: string[];
  homePage?: string;
  downloadUrl?: string;
  projectUrls?: ProjectUrl[];
  classifiers?: string[];
  requiresPython?: string;
  requiresDist: string[];
  providesExtra?: string[];
  metadataVersion?: string;
  /** How the file's bytes were decoded. */
  metadataEncoding?: 'utf-8' | 'latin-1';
}

/** Caps on what is kept of an untrusted metadata file. */
export const METADATA_LIMITS = Object.freeze({ maxBytes: 4 * 1024 * 1024, maxDescription: 64 * 1024, maxValue: 2000, maxList: 500 });

const KEEP_LINES = new Set(['description', 'license']);

/** Core metadata bytes as text: UTF-8 (a BOM dropped), else latin-1. */
export function decodeMetadata(data: Buffer | string): { text: string; encoding: 'utf-8' | 'latin-1' } {
  if (typeof data === 'string') return { text: data, encoding: 'utf-8' };
  const bytes = data.subarray(0, METADATA_LIMITS.maxBytes);
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: bytes.toString('latin1'), encoding: 'latin-1' };
  }
}

/** Parses the metadata (bytes or text); returns null when Name or Version is missing. */
export function parseCoreMetadata(data: Buffer | string): CoreMetadata | null {
  const { text, encoding } = decodeMetadata(data);
  const L = METADATA_LIMITS;
  const lines = text.slice(0, L.maxBytes).replace(/\r\n?/g, '\n').split('\n');
  const headers: [string, string][] = [];
  let bodyAt = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '' || (line.trim() === '' && headers.length === 0)) {
      bodyAt = i + 1;
      break;
    }
    if ((line[0] === ' ' || line[0] === '\t') && headers.length) {
      const last = headers[headers.length - 1]!;
      if (last[1].length > L.maxDescription * 2) continue;
      if (KEEP_LINES.has(last[0])) last[1] += `\n${last[0] === 'description' ? line.replace(/^ {1,8}\|?/, '') : line.trim()}`;
      else last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const i2 = line.indexOf(':');
    const key = i2 > 0 ? line.slice(0, i2).trim() : '';
    if (key && !key.includes(' ')) headers.push([key.toLowerCase(), line.slice(i2 + 1).trim()]);
  }
  const body = lines.slice(bodyAt).join('\n').replace(/^\n+|\n+$/g, '');
  const get = (k: string, cap: number = L.maxValue): string | undefined => {
    const v = headers.find(([h]) => h === k)?.[1].trim();
    return v && v.toUpperCase() !== 'UNKNOWN' ? v.slice(0, cap) : undefined;
  };
  const getAll = (k: string): string[] =>
    headers.filter(([h, v]) => h === k && v.trim()).map(([, v]) => v.trim().slice(0, L.maxValue)).slice(0, L.maxList);
  const name = get('name', 200);
  const version = get('version', 100);
  if (!name || !version) return null;
  const description = body.trim() ? body : (get('description', L.maxDescription * 2) ?? '');
  const kw = get('keywords');
  const keywords = kw ? kw.split(kw.includes(',') ? /\s*,\s*/ : /[,\s]+/).filter(Boolean).slice(0, 100) : [];
  const projectUrls = getAll('project-url').map((v) => {
    const c = v.indexOf(',');
    return c < 0 ? { label: '', url: v.trim() } : { label: v.slice(0, c).trim().slice(0, 200), url: v.slice(c + 1).trim() };
  });
  const meta: CoreMetadata = {
    name, version, summary: get('summary', 1000),
    description: description ? description.slice(0, L.maxDescription) : undefined,
    descriptionTruncated: description.length > L.maxDescription ? true : undefined,
    descriptionContentType: get('description-content-type', 200),
    author: get('author'), authorEmail: get('author-email'), maintainer: get('maintainer'), maintainerEmail: get('maintainer-email'),
    license: get('license', 20000), licenseExpression: get('license-expression'),
    keywords: keywords.length ? keywords : undefined,
    homePage: get('home-page'), downloadUrl: get('download-url'),
    projectUrls: projectUrls.length ? projectUrls : undefined,
    classifiers: nonEmpty(getAll('classifier')),
    requiresPython: get('requires-python', 200),
    requiresDist: getAll('requires-dist'),
    providesExtra: nonEmpty(getAll('provides-extra')),
    metadataVersion: get('metadata-version', 20),
    metadataEncoding: encoding,
  };
  for (const k of Object.keys(meta) as (keyof CoreMetadata)[]) if (meta[k] === undefined) delete meta[k];
  return meta;
}

function nonEmpty(v: string[]): string[] | undefined {
  return v.length ? v : undefined;
}
