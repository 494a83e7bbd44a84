/**
 * The syscalls the traced tasks hand to strace: the file calls the host analyses (opens, file
 * changes, chdir), the network and process calls, and, where package code runs (build, import,
 * execute; not the install of a wheel, which runs none), the probes of the stat family that
 * stealers' sweeps are made of. Mirrors tasks/guest/pyti_common.py (a test compares them), so the
 * import task, which runs strace itself, traces what the others trace.
 */
export const TRACED_FILE_CALLS = 'open,openat,openat2,creat,unlink,unlinkat,rmdir,rename,renameat,renameat2,'
  + 'chmod,fchmod,fchmodat,mkdir,mkdirat,symlink,symlinkat,link,linkat,truncate,'
  + 'chdir,fchdir';

/** The probes: newfstatat is os.stat/os.path.exists on x86_64 glibc. */
export const PROBE_CALLS = 'newfstatat,statx,access,faccessat,faccessat2';

/** strace's options before `-o FILE COMMAND…`, probes included (pyti_common.STRACE outside `install`). */
export const STRACE_ARGS: readonly string[] = Object.freeze([
  'strace', '-f', '--seccomp-bpf', '-ttt', '-yy', '-s', '512', '-e', `trace=%network,%process,${TRACED_FILE_CALLS},${PROBE_CALLS}`, '-e', 'signal=all',
]);
