/** Subscriptions to a package index's uploads (and, through the kind registry, to git repositories: src/git): the service, its parts, and the kind registry. */
export { SubscriptionService, type SubscriptionServiceOptions } from './subscription-service.js';
export { SubscriptionStore, toSubscriptionSummary, type SubscriptionRow, type SummaryExtra } from './subscription-store.js';
export { ChangeIngest, type ChangeIngestOptions, type IngestResult, type ResolveRelease, type SelectFiles } from './change-ingest.js';
export { FeedCursor, type CursorRow } from './feed-cursor.js';
export { FeedFollower, type ChangelogSource, type FeedFollowerOptions, type RssSource } from './feed-follower.js';
export { PollLoop, realTimers, type PollLoopOptions, type Timers } from './poll-loop.js';
export { ReleaseLedger, type ReleaseState } from './release-ledger.js';
export { kindFields, registerSubscriptionKind, subscriptionKind, subscriptionKinds, type IndexMatcher, type SubscriptionKindDefinition } from './subscription-kinds.js';
export { checkCreate, checkUpdate, checkSubscriptionName, type CheckedCreate, type CheckedUpdate } from './subscription-request.js';
export { SubscriptionExistsError, SubscriptionInvalidError, SubscriptionNotFoundError } from './subscription-errors.js';
