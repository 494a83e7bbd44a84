/**
 * Why an audit ended in `error`: the sandbox or its agent failed, not the package. The slave's agent
 * session sets it; the report carries it (AuditReport.infraError) and the renderers show it.
 */
/** The kind of infrastructure failure; stable strings, shown in reports. */
export type InfraErrorKind =
  | 'error:sandbox-protocol' | 'error:boot-timeout' | 'error:job-timeout' | 'error:sandbox' | 'error:guest-unresponsive' | 'error:task-overrun';

/** One infrastructure failure: its kind and a message for the user (both from the host, not the guest). */
export interface InfraError {
  kind: InfraErrorKind;
  message: string;
  /** The offending message (truncated), for protocol violations. */
  evidence?: string;
}
