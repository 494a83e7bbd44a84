/** Errors of submissions: a bad submission (400) and an unknown one (404). */
import { PytiError } from '@pyti/vm-agent';

/** A submission that cannot be accepted; the message names the field or zip entry. */
export class SubmissionInvalidError extends PytiError {
  constructor(what: string, why: string) {
    super('PYTI_SUBMISSION_INVALID', `${what}: ${why}`);
  }
}

export class SubmissionNotFoundError extends PytiError {
  constructor(id: string) {
    super('PYTI_SUBMISSION_NOT_FOUND', `no submission with id ${JSON.stringify(id.slice(0, 64))}`);
  }
}
