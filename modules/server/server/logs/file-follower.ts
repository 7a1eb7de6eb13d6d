/**
 * The local file follower and tail now live in the platform's host-files adapter, which opens every
 * log with no-follow semantics (issue 9, finding 2). Kept here for the module's existing imports.
 */
export { FileFollower, type FollowEvents as FollowerEvents, tailFile } from '../../../../server/src/sdk.js';
