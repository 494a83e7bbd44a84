/** Reads the one-line JSON report a conformance guest script prints (`PYTI-REPORT {...}`). */

const PREFIX = 'PYTI-REPORT ';

/** The last report line in a task's output, parsed; throws, quoting the output's end, when there is none. */
export function guestReport<T = Record<string, unknown>>(output: string | undefined, task: string): T {
  const line = (output ?? '').split('\n').reverse().find((l) => l.startsWith(PREFIX));
  if (!line) throw new Error(`task ${task} printed no report; its output ended with:\n${(output ?? '').slice(-2000)}`);
  return JSON.parse(line.slice(PREFIX.length)) as T;
}
