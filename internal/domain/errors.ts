/**
 * Typed errors following Koa's contract: `status` is the HTTP status and `expose`
 * says whether `message` may be shown to the client. The error middleware renders
 * every AppError as `{"error":{"code","message"}}`.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly expose: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { cause?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.expose = status < 500 || status === 503;
    this.headers = options.headers ?? {};
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'A valid bearer token is required.') {
    super(401, 'unauthorized', message, { headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class NotFoundError extends AppError {
  constructor(what: 'application' | 'chat' | 'message' | 'route') {
    super(404, `${what}_not_found`, `No such ${what}.`);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(
      413,
      'payload_too_large',
      `The request body is larger than ${limitBytes / 1024 / 1024} MiB.`,
    );
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor() {
    super(415, 'unsupported_media_type', 'The request body must be application/json.');
  }
}

export interface FieldIssue {
  readonly field: string;
  readonly message: string;
}

export class ValidationError extends AppError {
  readonly issues: readonly FieldIssue[];
  constructor(issues: readonly FieldIssue[]) {
    super(422, 'validation_failed', issues.map((i) => `${i.field}: ${i.message}`).join('; '));
    this.issues = issues;
  }
}

export class IdempotencyKeyReusedError extends AppError {
  constructor() {
    super(
      422,
      'idempotency_key_reused',
      'This Idempotency-Key was already used with a different request body.',
    );
  }
}

/**
 * Every 503 carries one of these codes. All but `outcome_unknown` guarantee that nothing was
 * or will be persisted for that request; `outcome_unknown` means it may have been, and
 * retrying with the same Idempotency-Key is safe.
 */
export const UNAVAILABLE_CODES = [
  'service_unavailable',
  'broker_unavailable',
  'outcome_unknown',
  'numbering_unavailable',
  'chat_pending',
] as const;
export type UnavailableCode = (typeof UNAVAILABLE_CODES)[number];

export class ServiceUnavailableError extends AppError {
  constructor(
    dependency: string,
    retryAfterSeconds = 5,
    cause?: unknown,
    code: UnavailableCode = 'service_unavailable',
  ) {
    super(503, code, `${dependency} is unavailable; retry later.`, {
      cause,
      headers: { 'Retry-After': String(retryAfterSeconds) },
    });
  }
}

/** The broker refused, blocked or could not take the event: nothing was sent. */
export class BrokerUnavailableError extends ServiceUnavailableError {
  constructor(retryAfterSeconds = 2, cause?: unknown) {
    super('The message broker', retryAfterSeconds, cause, 'broker_unavailable');
  }
}

/**
 * The event was sent but neither confirmed nor re-published with a confirm before the
 * deadline: it may still be persisted. A retry with the same Idempotency-Key republishes the
 * very same event (same number, same event id), so it is safe.
 */
export class OutcomeUnknownError extends AppError {
  constructor(cause?: unknown) {
    super(
      503,
      'outcome_unknown',
      'The message broker did not confirm the create in time; it may still be persisted. Retry with the same Idempotency-Key.',
      { cause, headers: { 'Retry-After': '2' } },
    );
  }
}

/** Numbering cannot be trusted right now (Redis unreachable, or its state being revalidated). */
export class NumberingUnavailableError extends ServiceUnavailableError {
  constructor(retryAfterSeconds = 1, cause?: unknown) {
    super('Numbering', retryAfterSeconds, cause, 'numbering_unavailable');
  }
}

/**
 * After Redis lost state, a chat number above the persisted ones may have been answered 201
 * and still be queued, or never issued: until that is settled, neither 201 nor 404 is honest.
 */
export class ChatPendingError extends AppError {
  constructor(retryAfterSeconds = 2) {
    super(
      503,
      'chat_pending',
      'This chat may still be queued for persistence after a numbering recovery; retry later.',
      { headers: { 'Retry-After': String(retryAfterSeconds) } },
    );
  }
}
