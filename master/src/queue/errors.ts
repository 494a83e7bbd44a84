/** Errors the queue raises towards slaves; the command API maps them to JSON-RPC error codes. */
import { PytiError } from '@pyti/vm-agent';

/** The lease is expired, cancelled, completed, unknown or another slave's (indistinguishably). */
export class LeaseLostError extends PytiError {
  constructor(leaseId: string) {
    super('PYTI_LEASE_LOST', `lease ${JSON.stringify(leaseId.slice(0, 12))}… is not a live lease of this slave (expired, cancelled, completed or unknown)`);
  }
}

/** The slave called a method before `slave.register`. */
export class NotRegisteredError extends PytiError {
  constructor(slave: string) {
    super('PYTI_RPC_INVALID', `slave ${slave} has not registered: call slave.register first`);
  }
}

/** No audit with this id. */
export class JobNotFoundError extends PytiError {
  constructor(id: string) {
    super('PYTI_JOB_NOT_FOUND', `no audit with id ${JSON.stringify(id.slice(0, 64))}`);
  }
}
