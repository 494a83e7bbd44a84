// Benchmark: throughput of the streaming strace parser on real captured traces (the checked-in
// fixtures, repeated to >= 64 MB), fed in 64 KiB chunks as a trace arrives from a VM. Side by side
// in the same run, the floor: only splitting the same bytes into lines. Prints MB/s for both, the
// ratio, and the heap growth. Usage: node bench/trace-parser.mjs [MB] [rounds]
import { readFileSync } from 'node:fs';
import { StraceParser } from '../common/dist/trace/strace-parser.js';

const targetMb = Number(process.argv[2] ?? 64);
const rounds = Number(process.argv[3] ?? 5);
const fixtures = ['guest-install', 'guest-import', 'proc', 'net', 'edge', 'ux'].map((n) =>
  readFileSync(new URL(`../common/src/trace/fixtures/${n}.strace`, import.meta.url)));
const one = Buffer.concat(fixtures);
const copies = Math.ceil((targetMb * 1024 * 1024) / one.length);
const input = Buffer.concat(Array(copies).fill(one));
const CHUNK = 64 * 1024;
const mb = input.length / (1024 * 1024);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function parse() {
  let events = 0;
  const p = new StraceParser(() => { events++; });
  for (let i = 0; i < input.length; i += CHUNK) p.push(input.subarray(i, i + CHUNK));
  const stats = p.end();
  if (stats.unparsed) throw new Error(`unparsed lines: ${stats.unparsed}`);
  return { events, lines: stats.lines };
}

function splitLines() {
  let lines = 0;
  let partial = '';
  for (let i = 0; i < input.length; i += CHUNK) {
    const text = partial + input.subarray(i, i + CHUNK).toString('latin1');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      lines += text.slice(start, nl).length > 0 ? 1 : 0;
      start = nl + 1;
    }
    partial = text.slice(start);
  }
  return { lines };
}

const time = (fn) => {
  const t0 = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
};

parse(); // warm up
splitLines();
const parseMs = [];
const splitMs = [];
let result;
const heap0 = process.memoryUsage().heapUsed;
let heapPeak = heap0;
for (let i = 0; i < rounds; i++) {
  const a = time(parse);
  parseMs.push(a.ms);
  result = a.r;
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  splitMs.push(time(splitLines).ms);
}
const p = median(parseMs);
const s = median(splitMs);
console.log(`trace-parser: ${mb.toFixed(1)} MB of real strace output (${result.lines} lines, ${result.events} events), ${rounds} rounds, medians`);
console.log(`  parse (events)      ${(mb / (p / 1000)).toFixed(1).padStart(7)} MB/s  ${(p / 1000).toFixed(2)} s`);
console.log(`  split lines only    ${(mb / (s / 1000)).toFixed(1).padStart(7)} MB/s  ${(s / 1000).toFixed(2)} s`);
console.log(`  ratio parse/split   ${(p / s).toFixed(2).padStart(7)}`);
console.log(`  heap growth while streaming: ${((heapPeak - heap0) / 1024 / 1024).toFixed(1)} MB (events are counted, not kept)`);
