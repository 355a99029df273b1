/**
 * Why the consumer sent a write to the dead-letter queue. The code is the metric's label and
 * the first part of the `x-death-reason` header; the detail is for the person inspecting it.
 */
export const DEAD_LETTER_CODES = [
  /** The payload is not a write event this version understands. */
  'poison',
  /** The event names an application that does not exist. */
  'unknown_application',
  /** Its number is already taken by another create. */
  'conflict',
  /** Persisting it failed on every one of CONSUMER_MAX_DELIVERIES deliveries. */
  'max_deliveries',
] as const;

export type DeadLetterCode = (typeof DEAD_LETTER_CODES)[number];

export interface DeadLetterReason {
  readonly code: DeadLetterCode;
  readonly detail: string;
}

/** The `x-death-reason` header's text. */
export function describeDeadLetter(reason: DeadLetterReason): string {
  return `${reason.code}: ${reason.detail}`;
}
