/** exec/eval of code fetched over the network. */
import type { RuleHit, StaticRule } from '../static-rule.js';
import { around } from '../static-rule.js';
import { EXEC_CALL, NET_CALL } from '../patterns.js';
import { assignedFrom, execCalls } from './exec-args.js';

export const execRemote: StaticRule = {
  id: 'exec-remote',
  description: 'exec/eval of code downloaded at run time (requests/urllib response text)',
  severity: 'critical',
  technique: 'Second-stage loaders: exec(requests.get(url).text) or exec(urlopen(url).read()) in setup.py (e.g. the 2023 "colorama typosquat" and PyPI stage-2 droppers)',
  run(file) {
    const hits: RuleHit[] = [];
    const fetched = assignedFrom(file, new RegExp(`${NET_CALL.source}|\\.(?:text|content)\\b|\\.read\\s*\\(`));
    const netVars = assignedFrom(file, NET_CALL);
    for (const { line: i, arg, name: v } of execCalls(file)) {
      const viaNet = NET_CALL.test(arg) || (v !== null && fetched.has(v) && netVars.size > 0) || [...netVars.keys()].some((n) => new RegExp(`\\b${n}\\s*\\.\\s*(?:text|content|read)`).test(arg));
      if (viaNet) hits.push({ line: i, severity: file.role === 'aux' ? 'medium' : 'critical', what: 'exec of downloaded code', excerpt: around(file.lines[i]!, EXEC_CALL) });
    }
    return hits;
  },
};
