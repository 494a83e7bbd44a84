/** setuptools command overrides (install, develop, egg_info, build_py, …) whose body does network, process or home/system file I/O. */
import type { Severity } from '../../findings/finding.js';
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { FILE_WRITE, NET_CALL, PROC_CALL, SHELL_PAYLOAD } from '../patterns.js';

const CLASS = /^(\s*)class\s+\w+\s*\(([^)]*)\)\s*:/;
const HOOKED = /\b(install|develop|egg_info|build_py|sdist|bdist_egg|bdist_wheel|easy_install|install_lib|install_scripts|build)\b/;
const OUTSIDE = /expanduser|~\/|\bAPPDATA|\bTEMP\b|\bHOME\b|\/etc\/|\.bashrc|\.profile|Startup|\/tmp\/|site-packages|getsitepackages/;
const BUILD_TOOL = /["'\[](?:git|make|cmake|gcc|g\+\+|clang|pkg-config|ninja|cython|npm|yarn|swig|nvcc|cargo|\.\/configure)\b/;

export const cmdclassIo: StaticRule = {
  id: 'cmdclass-io',
  description: 'a setuptools command override (install, develop, egg_info, build_py, sdist, bdist_*) whose body calls the network, starts a process, or writes outside the build tree',
  severity: 'high',
  technique: 'Post-install hooks: class CustomInstall(install) whose run() downloads, runs a command or drops a file (PyPI dependency-confusion and typosquat droppers)',
  run(file) {
    if (file.role !== 'setup') return [];
    const hits: RuleHit[] = [];
    for (let i = 0; i < file.code.length; i++) {
      const m = CLASS.exec(file.code[i]!);
      if (!m) continue;
      const base = HOOKED.exec(m[2]!);
      if (!base || /build_ext|build_clib/.test(m[2]!)) continue;
      const kind = base[1]!;
      const ind = m[1]!.replace(/\t/g, '    ').length;
      let j = i + 1;
      for (; j < file.code.length; j++) {
        if (file.code[j]!.trim() && file.indent[j]! <= ind) break;
        const l = file.code[j]!;
        let sev: Severity | null = null;
        let what = '';
        if (NET_CALL.test(l)) {
          sev = 'high';
          what = `network call in a ${kind} override`;
        } else if (PROC_CALL.test(l)) {
          if (SHELL_PAYLOAD.test(l)) sev = 'high';
          else if (BUILD_TOOL.test(l) || /sys\.executable/.test(l)) sev = null;
          else sev = /^(install|develop|egg_info|easy_install)$/.test(kind) ? 'medium' : 'low';
          what = `process start in a ${kind} override`;
        } else if (FILE_WRITE.test(l) && OUTSIDE.test(file.code.slice(Math.max(i, j - 5), j + 2).join('\n'))) {
          sev = 'medium';
          what = `file written outside the build tree in a ${kind} override`;
        }
        if (sev) hits.push({ line: j, severity: sev, what, excerpt: around(file.lines[j]!, /\S/) });
      }
      i = j - 1;
    }
    return hits;
  },
};
