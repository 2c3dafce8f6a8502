// The run record as callers see it is defined once, next to the notification that carries it.
export { type PublicRun, toPublicRun } from '../notify/public-run.ts';
