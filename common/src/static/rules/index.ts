/** Every static rule, in report order. */
import type { StaticRule } from '../static-rule.js';
import { execRemote } from './exec-remote.js';
import { execDecoded } from './exec-decoded.js';
import { execObfuscated } from './exec-obfuscated.js';
import { obfuscatedImport } from './obfuscated-import.js';
import { hiddenWhitespace } from './hidden-whitespace.js';
import { encodedBlob } from './encoded-blob.js';
import { pyarmor } from './pyarmor.js';
import { downloadExecute } from './download-execute.js';
import { fingerprintExfil } from './fingerprint-exfil.js';
import { installTimeNetwork } from './install-time-network.js';
import { installTimeProcess } from './install-time-process.js';
import { cmdclassIo } from './cmdclass-io.js';
import { windowsDropper } from './windows-dropper.js';
import { exfilEndpoint } from './exfil-endpoint.js';
import { credentialPaths } from './credential-paths.js';
import { typosquatShadow } from './typosquat-shadow.js';
import { suspiciousVersion } from './suspicious-version.js';
import { scriptDrop } from './script-drop.js';
import { remoteShell } from './remote-shell.js';

/** The static rules (GuardDog's source-code and metadata classes, and what the PyPI samples showed). */
export const STATIC_RULES: readonly StaticRule[] = [
  execRemote, execDecoded, execObfuscated, obfuscatedImport, hiddenWhitespace, encodedBlob, pyarmor, downloadExecute, scriptDrop, remoteShell,
  fingerprintExfil, installTimeNetwork, installTimeProcess, cmdclassIo, windowsDropper, exfilEndpoint, credentialPaths,
  typosquatShadow, suspiciousVersion,
];
