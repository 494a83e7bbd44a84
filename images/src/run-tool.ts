/** Running the host tools the image builds and the VM backends use (mkfs.ext4, qemu-img, xz, apt). */
import { spawn } from 'node:child_process';

/**
 * Runs a command; resolves to its stdout (as a Buffer), rejects with the command line, its exit
 * code and its stderr tail. `okCodes` are the exit codes that count as success (default `[0]`).
 */
export function runTool(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer; okCodes?: number[] } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    p.stdin.on('error', () => undefined);
    p.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    p.on('close', (code) => (opts.okCodes ?? [0]).includes(code ?? -1) ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${err.trim()}`)));
    p.stdin.end(opts.input);
  });
}
