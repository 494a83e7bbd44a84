/*
 * pyti-launch: the task launcher of the PyTI guest agent, as a small static C program (the same
 * steps as the Python launcher in vm-agent/src/task-launcher.ts, which it replaces when present:
 * an exec of it costs milliseconds under TCG, Python's start-up 0.15-0.2 s).
 *
 * argv: GATE UID GID TERMINAL CPU_SOFT CPU_HARD AS NPROC -- COMMAND...   (-1: none)
 *
 * Runs as root, a session leader (spawned detached), stdin /dev/null, stdout/stderr the agent's pipes:
 *  1. GATE=1: reads the agent's go-ahead on fd 3 (sent once the agent moved this process into the
 *     task's cgroup), closes fd 3; no go-ahead: exit 125. The task's first instruction runs in its cgroup.
 *  2. rlimits: CPU soft:hard (SIGXCPU at the soft one), core 0, address space, and with a uid NPROC.
 *  3. UID>=0 and TERMINAL=1: a pty made the session's controlling terminal; fork; the child writes
 *     the uid to /proc/self/loginuid, takes the pty slave as fd 0 (owned by the uid), drops to
 *     uid/gid with no supplementary groups and execs the command. The parent keeps the master,
 *     queues EOF characters, discards what the task writes to it, wakes on SIGCHLD and ends as
 *     its child ended (re-raising its signal: SIGXCPU stays the CPU limit, SIGKILL "killed").
 *     No pty available, or TERMINAL=0: login uid, uid, exec, no extra process.
 *  4. UID<0: gate and rlimits, then exec.
 * Every path execs the command with default signal dispositions and an empty signal mask.
 *
 * Security: nothing of the task runs before the uid is dropped (setgroups, setgid, setuid, each
 * checked: a failure exits 126 without running the command); the pty master stays with the root
 * parent. The binary is static: it needs no library from the task-writable parts of the guest.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static long num(const char *s) { return strtol(s, NULL, 10); }

static void set_limit(int res, long soft, long hard) {
  struct rlimit r = { (rlim_t)soft, (rlim_t)hard };
  if (setrlimit(res, &r) != 0) { perror("pyti-task: setrlimit"); _exit(126); }
}

static void login_uid(long uid) {
  int fd = open("/proc/self/loginuid", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%ld", uid);
  if (write(fd, buf, (size_t)n) < 0) { /* no CAP_AUDIT_CONTROL: getlogin falls back to utmp */ }
  close(fd);
}

static void default_signals(void) {
  for (int s = 1; s < NSIG; s++) if (s != SIGKILL && s != SIGSTOP) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

static void become_and_exec(long uid, long gid, char **argv) {
  if (uid >= 0) {
    if (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) {
      perror("pyti-task: cannot take the task's uid");
      _exit(126);
    }
  }
  default_signals();
  execvp(argv[0], argv);
  fprintf(stderr, "pyti-task: cannot run %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

static void on_child(int s) { (void)s; }

int main(int argc, char **argv) {
  if (argc < 11 || strcmp(argv[9], "--") != 0) {
    fputs("pyti-task: usage: pyti-launch GATE UID GID TERMINAL CPU_SOFT CPU_HARD AS NPROC -- COMMAND...\n", stderr);
    return 126;
  }
  int gate = argv[1][0] == '1';
  long uid = num(argv[2]), gid = num(argv[3]);
  int term = argv[4][0] == '1';
  long cpu_soft = num(argv[5]), cpu_hard = num(argv[6]), as = num(argv[7]), nproc = num(argv[8]);
  char **cmd = argv + 10;
  if (gate) {
    char go[16];
    ssize_t n;
    do n = read(3, go, sizeof go); while (n < 0 && errno == EINTR);
    if (n < 2 || go[0] != 'g' || go[1] != 'o') _exit(125);
    close(3);
  }
  if (cpu_soft >= 0) {
    set_limit(RLIMIT_CPU, cpu_soft, cpu_hard);
    set_limit(RLIMIT_CORE, 0, 0);
    set_limit(RLIMIT_AS, as, as);
    if (nproc >= 0) set_limit(RLIMIT_NPROC, nproc, nproc);
  }
  if (uid < 0) become_and_exec(uid, gid, cmd);
  int master = -1, slave = -1;
  if (!term || openpty(&master, &slave, NULL, NULL, NULL) != 0) {
    login_uid(uid);
    become_and_exec(uid, gid, cmd);
  }
  fcntl(master, F_SETFD, FD_CLOEXEC);
  ioctl(slave, TIOCSCTTY, 0);
  if (fchown(slave, (uid_t)uid, (gid_t)gid) != 0) { /* the task still reads EOF from it */ }
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_child;
  sigaction(SIGCHLD, &sa, NULL);
  sigprocmask(SIG_BLOCK, &chld, &old);
  pid_t pid = fork();
  if (pid < 0) { perror("pyti-task: fork"); _exit(126); }
  if (pid == 0) {
    login_uid(uid);
    dup2(slave, 0);
    close(slave);
    close(master);
    become_and_exec(uid, gid, cmd);
  }
  close(slave);
  char eofs[256];
  memset(eofs, 4, sizeof eofs);
  if (write(master, eofs, sizeof eofs) < 0) { /* nobody reads the terminal: fine */ }
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  int status = 0, watching = 1;
  for (;;) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) { status = 1 << 8; break; }
    struct pollfd p = { master, POLLIN, 0 };
    struct timespec t = { 5, 0 };
    /* SIGCHLD is blocked except inside ppoll: an exit between waitpid and here still wakes it. */
    int r = ppoll(&p, watching ? 1 : 0, &t, &old);
    if (r > 0 && watching) {
      char buf[65536];
      ssize_t n = read(master, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) watching = 0;
    }
  }
  if (WIFSIGNALED(status)) {
    int s = WTERMSIG(status);
    signal(s, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, s);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    kill(getpid(), s);
    _exit(128 + s);
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
