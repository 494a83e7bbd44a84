/** The shapes of the per-audit bait: canary credentials planted where stealers look. */

/** One canary value (fake, random per audit) and what it stands for (`aws-secret`, `ssh-key`, …). */
export interface Canary {
  id: string;
  /** The random part of the credential: what is searched for where data leaves a process. */
  value: string;
}

/** One file to plant. */
export interface BaitFile {
  /** `~/…` (under the task home) or an absolute guest path. */
  path: string;
  /** Its content, base64. */
  contentBase64: string;
}

/** The whole bait of one audit. */
export interface Bait {
  files: BaitFile[];
  canaries: Canary[];
  /** Environment the traced tasks get (the AWS pair, as CI runners have). */
  env: Record<string, string>;
}

/** What a report keeps of the bait (to rescore): the planted paths and the canaries. */
export interface ReportBait {
  files: string[];
  canaries: Canary[];
}

/** A canary bait-check found in a file written during the audit. */
export interface BaitHit {
  path: string;
  canary: string;
}
