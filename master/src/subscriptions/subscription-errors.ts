/** The errors of subscription management (user API 400, 404 and 409). */
import { PytiError } from '@pyti/vm-agent';

/** A subscription field is invalid: PYTI_SUBSCRIPTION_INVALID naming the field. */
export class SubscriptionInvalidError extends PytiError {
  constructor(readonly field: string, why: string) {
    super('PYTI_SUBSCRIPTION_INVALID', `${field}: ${why}`);
  }
}

/** No subscription with this name: PYTI_SUBSCRIPTION_NOT_FOUND. */
export class SubscriptionNotFoundError extends PytiError {
  constructor(name: string) {
    super('PYTI_SUBSCRIPTION_NOT_FOUND', `no subscription named ${JSON.stringify(name.slice(0, 64))}`);
  }
}

/** The name is taken: PYTI_SUBSCRIPTION_EXISTS. */
export class SubscriptionExistsError extends PytiError {
  constructor(name: string) {
    super('PYTI_SUBSCRIPTION_EXISTS', `a subscription named ${JSON.stringify(name)} already exists`);
  }
}
