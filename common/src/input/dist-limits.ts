/** Limits on a distribution archive, checked on the host before anything runs. */
export interface DistLimits {
  /** Size of the archive file itself. */
  maxArchiveBytes: number;
  /** Sum of the members' uncompressed sizes. */
  maxUnpackedBytes: number;
  maxMembers: number;
  /** Unpacked / packed size, above which the archive is a bomb (only checked past 32 MiB unpacked). */
  maxRatio: number;
  /** Wall-clock time to read the archive (a slow, hostile archive must not keep a master busy). */
  maxMillis: number;
}

export const DEFAULT_DIST_LIMITS: Readonly<DistLimits> = Object.freeze({
  maxArchiveBytes: 512 * 1024 * 1024,
  maxUnpackedBytes: 1024 * 1024 * 1024,
  maxMembers: 50000,
  maxRatio: 200,
  maxMillis: 120_000,
});
