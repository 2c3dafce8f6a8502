import type { CoreSettings } from './ports.ts';

/**
 * When a running run is checked next: `checkIntervalSeconds × factor^(checks-1)`, capped at
 * `checkMaxIntervalSeconds`, and never past the run's deadline (so a timeout is acted on at the first
 * sweep after it). With per-minute ticks and the defaults (20 s ×2, cap 60 s) every tick checks a
 * long run once: ≤ 1 Operation.Get per run per minute, and an ending is seen within about a minute.
 */
export function nextCheckAt(now: Date, checks: number, deadline: Date, settings: CoreSettings): Date {
  const steps = Math.max(0, checks - 1);
  const delaySeconds = Math.min(
    settings.checkMaxIntervalSeconds,
    settings.checkIntervalSeconds * settings.checkBackoffFactor ** steps,
  );
  const next = now.getTime() + delaySeconds * 1000;
  return new Date(Math.max(now.getTime(), Math.min(next, deadline.getTime())));
}

/** Retry delay for a failed notification delivery: 30 s ×2, capped at one hour. */
export function nextDeliveryAt(now: Date, attempts: number): Date {
  const delaySeconds = Math.min(3600, 30 * 2 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + delaySeconds * 1000);
}

/** A delivery is abandoned (logged as lost) after this many failed attempts (about 2 days at the cap). */
export const MAX_DELIVERY_ATTEMPTS = 60;

/**
 * How long the writer of an ending (or a sweep delivering a report) holds the run's report before
 * another sweep may take it over. Long enough for a slow webhook; a writer killed meanwhile delays its
 * report by at most this much.
 */
export const REPORT_CLAIM_SECONDS = 120;

/** The `nextCheckAt` of a report claimed at `now`: when another sweep may take it over. */
export function reportClaimUntil(now: Date): string {
  return new Date(now.getTime() + REPORT_CLAIM_SECONDS * 1000).toISOString();
}
