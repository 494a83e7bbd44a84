/**
 * Shape checks for everything the host receives from a guest. A guest may be compromised by the
 * package it runs, so each message is checked field by field before use; a message that fails is a
 * protocol violation, never something to coerce.
 */
import type {
  AgentHello, PingResult, RunResult, TaskFinishedParams, TaskOutputParams, TaskRawParams, TaskResult, TaskStartedParams,
} from '@pyti/vm-agent';

export class ShapeError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) throw new ShapeError(`${what} is not an object`);
  return v;
}
function str(o: Obj, k: string, max = 4096, optional = false): string | undefined {
  const v = o[k];
  if ((v === undefined || v === null) && optional) return undefined;
  if (typeof v !== 'string') throw new ShapeError(`${k} is not a string`);
  if (v.length > max) throw new ShapeError(`${k} is longer than ${max}`);
  return v;
}
function num(o: Obj, k: string, optional = false): number | undefined {
  const v = o[k];
  if ((v === undefined || v === null) && optional) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1e15) throw new ShapeError(`${k} is not a non-negative number`);
  return v;
}

const TASK_ID = /^[a-z][a-z0-9-]{0,63}$/;
/** Raw-data file names: plain names only, no paths. */
export const RAW_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const STATUSES = new Set(['pass', 'fail', 'skipped', 'timeout', 'oom', 'limit', 'error']);
const LIMITS = new Set(['wall-clock', 'no-output', 'cpu', 'memory', 'processes', 'output-size']);

function taskId(o: Obj, known: ReadonlySet<string>): string {
  const id = str(o, 'id', 64)!;
  if (!TASK_ID.test(id) || !known.has(id)) throw new ShapeError(`unknown task id ${JSON.stringify(id.slice(0, 64))}`);
  return id;
}

/** The answer to `ping`: the ids of the tasks the agent says are running (each a task of the plan). */
export function checkPing(v: unknown, known: ReadonlySet<string>): PingResult {
  const o = obj(v, 'ping result');
  if (!Array.isArray(o.running) || o.running.length > known.size) throw new ShapeError('ping result: running is not a list of tasks');
  for (const id of o.running) if (typeof id !== 'string' || !known.has(id)) throw new ShapeError(`ping result: unknown task id ${JSON.stringify(String(id).slice(0, 64))}`);
  return { running: [...(o.running as string[])] };
}

export function checkHello(v: unknown): AgentHello {
  const o = obj(v, 'hello');
  num(o, 'protocolVersion');
  str(o, 'agentVersion', 64);
  str(o, 'python', 64);
  str(o, 'platform', 64);
  str(o, 'machine', 64);
  num(o, 'maxParallel');
  const tools = obj(o.tools, 'tools');
  if (Object.keys(tools).length > 64) throw new ShapeError('too many tools');
  for (const [k, t] of Object.entries(tools)) if (t !== null && (typeof t !== 'string' || t.length > 64 || k.length > 64)) throw new ShapeError(`tool ${k} is malformed`);
  if (o.capabilities !== undefined) {
    const net = obj(o.capabilities, 'capabilities').network;
    if (!Array.isArray(net) || net.length > 8 || !net.every((n) => n === 'none' || n === 'sinkhole')) throw new ShapeError('capabilities.network is not a list of known networks');
  }
  const paths = obj(o.paths, 'paths');
  for (const k of ['home', 'work', 'input', 'wheelhouse', 'tmp']) {
    const p = str(paths, k, 256)!;
    if (!p.startsWith('/')) throw new ShapeError(`path ${k} is not absolute`);
  }
  return v as AgentHello;
}

export function checkStarted(v: unknown, known: ReadonlySet<string>): TaskStartedParams {
  const o = obj(v, 'task/started');
  taskId(o, known);
  num(o, 'startedAt');
  return v as TaskStartedParams;
}

export function checkOutput(v: unknown, known: ReadonlySet<string>): TaskOutputParams {
  const o = obj(v, 'task/output');
  taskId(o, known);
  if (o.stream !== 'stdout' && o.stream !== 'stderr') throw new ShapeError('stream is not stdout or stderr');
  str(o, 'text', 1024 * 1024);
  return v as TaskOutputParams;
}

export function checkRaw(v: unknown, known: ReadonlySet<string>): TaskRawParams {
  const o = obj(v, 'task/raw');
  taskId(o, known);
  const name = str(o, 'name', 100)!;
  if (!RAW_NAME.test(name)) throw new ShapeError(`raw file name ${JSON.stringify(name)} is not a plain name`);
  num(o, 'offset');
  const data = str(o, 'data', 2 * 1024 * 1024)!;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw new ShapeError('raw data is not base64');
  if (typeof o.final !== 'boolean') throw new ShapeError('final is not a boolean');
  return v as TaskRawParams;
}

export function checkTaskResult(v: unknown, known: ReadonlySet<string>): TaskResult {
  const o = obj(v, 'task result');
  taskId(o, known);
  if (typeof o.status !== 'string' || !STATUSES.has(o.status)) throw new ShapeError('status is not a known task status');
  str(o, 'reason', 4096, true);
  if (o.limit !== undefined && (typeof o.limit !== 'string' || !LIMITS.has(o.limit))) throw new ShapeError('limit is not a known limit');
  if (o.exitCode !== undefined && o.exitCode !== null && (typeof o.exitCode !== 'number' || !Number.isInteger(o.exitCode))) throw new ShapeError('exitCode is not an integer');
  str(o, 'signal', 16, true);
  for (const k of ['startedAt', 'durationMs', 'cpuMs', 'peakMemoryBytes', 'peakProcesses', 'outputBytes']) num(o, k, true);
  str(o, 'outputTail', 65536, true);
  if (!Array.isArray(o.rawFiles) || o.rawFiles.length > 64 || !o.rawFiles.every((n) => typeof n === 'string' && RAW_NAME.test(n))) {
    throw new ShapeError('rawFiles is not a list of plain names');
  }
  return v as TaskResult;
}

export function checkFinished(v: unknown, known: ReadonlySet<string>): TaskFinishedParams {
  const o = obj(v, 'task/finished');
  checkTaskResult(o.result, known);
  return v as TaskFinishedParams;
}

export function checkRunResult(v: unknown, known: ReadonlySet<string>): RunResult {
  const o = obj(v, 'run result');
  if (!['pass', 'fail', 'warn'].includes(o.verdict as string)) throw new ShapeError('verdict is not pass, fail or warn');
  if (!Array.isArray(o.tasks) || o.tasks.length > known.size) throw new ShapeError('tasks is not a list of the plan\'s tasks');
  for (const t of o.tasks) checkTaskResult(t, known);
  num(o, 'durationMs');
  return v as RunResult;
}
