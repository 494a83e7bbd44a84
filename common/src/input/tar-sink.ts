/** A writable that feeds a `tar` Parser and ends it: the last stage of a read pipeline of a tar stream. */
import { Writable } from 'node:stream';
import type { Parser } from 'tar';

export function tarParserSink(parser: Parser): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      parser.write(chunk);
      cb();
    },
    final(cb) {
      parser.end();
      cb();
    },
  });
}
