import type { ChannelModel } from 'amqplib';
import type { WriteEvent } from '../domain/model.js';
import type { PublishDeadline, WritePublisher } from '../domain/ports.js';
import { BrokerUnavailableError, OutcomeUnknownError } from '../domain/errors.js';
import { encodeWriteEvent } from '../domain/events.js';
import { assertTopology } from './topology.js';
import { ConfirmLink, UnroutableError, type SendOutcome } from './confirm.js';

/** Why a publish was refused before anything was sent. */
export const REFUSAL_REASONS = [
  'no_channel',
  'blocked',
  'buffer_full',
  'unconfirmed_limit',
  'deadline',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface PublisherObserver {
  confirmed(seconds: number): void;
  /** An accepted publish ended without a confirm (503 broker_unavailable or outcome_unknown). */
  failed(): void;
  refused(reason: RefusalReason): void;
  /** The same event was sent again after a lost channel, a nack, a return or a slow confirm. */
  republished(): void;
}

export interface PublisherOptions {
  /** Accepted publishes not yet confirmed (or given up on), at most; beyond: refused. */
  readonly maxUnconfirmed: number;
  /** Their payload bytes at most, so memory stays bounded whatever the offered load. */
  readonly maxUnconfirmedBytes: number;
  /** How long a send waits for its confirm before its outcome counts as unknown. */
  readonly confirmTimeoutMs: number;
  /** Pause before sending again after a nack or a return. */
  readonly retryDelayMs: number;
}

const DEFAULTS: PublisherOptions = {
  maxUnconfirmed: 5_000,
  maxUnconfirmedBytes: 32 * 1024 * 1024,
  confirmTimeoutMs: 5_000,
  retryDelayMs: 100,
};

type AttemptState = SendOutcome | 'sent' | 'timed_out';

interface Attempt {
  state: AttemptState;
  readonly sentAt: number;
}

interface Pending {
  readonly event: WriteEvent;
  readonly content: Buffer;
  readonly sendBy: number;
  readonly started: bigint;
  readonly attempts: Attempt[];
  /** No send before this (after a nack or a return). */
  notBefore: number;
  timer: NodeJS.Timeout | null;
  done: boolean;
  lastError: Error | null;
  resolve(): void;
  reject(err: Error): void;
}

/** The channel in use and the blocked state of its connection. */
interface Link {
  readonly confirm: ConfirmLink;
  readonly connection: { blocked: boolean };
}

/**
 * Publishes persistent, mandatory messages on one confirm channel and resolves only on the
 * broker's confirm.
 *
 * - Flow control: while the connection is blocked (broker alarm), the channel's write buffer
 *   is full (until 'drain'), or too many publishes await their confirm, a publish is refused
 *   at once with BrokerUnavailableError, before anything is sent.
 * - A send whose outcome is unknown (its channel closed first, or no confirm in time) or
 *   that the broker refused (nack, return) is sent again as the same event (same message
 *   id, which the consumer de-duplicates) on the current or next channel, never after the
 *   caller's `sendBy`. If none is confirmed: OutcomeUnknownError when any send may have been
 *   enqueued, BrokerUnavailableError when none was.
 *
 * `sendBy` bounds when a send is written to the channel. Bytes written just before it can
 * still be in amqplib's write buffer (we stop at its high-water mark) or in the sockets, and
 * a broker that stopped reading for an alarm reads them when the alarm clears: such a publish
 * is confirmed late (up to confirmTimeoutMs after its send) or ends as OutcomeUnknownError.
 */
export class ConfirmPublisher implements WritePublisher {
  private link: Link | null = null;
  private readonly pending = new Set<Pending>();
  /** Accepted publishes that have nothing outstanding and wait for a usable channel. */
  private readonly waiting = new Set<Pending>();
  private unconfirmedBytes = 0;
  private readonly options: PublisherOptions;

  constructor(
    private readonly queue: string,
    private readonly observer: PublisherObserver,
    options: Partial<PublisherOptions> = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
  }

  /** For readiness: a channel with its topology declared, on a connection not blocked. */
  get ready(): boolean {
    return this.link !== null && this.link.confirm.open && !this.link.connection.blocked;
  }

  get accepting(): boolean {
    return this.refusal(0) === null;
  }

  /** Publishes accepted and not settled yet. */
  get unconfirmed(): number {
    return this.pending.size;
  }

  /** Wire as the connection's onConnect. */
  readonly attach = async (connection: ChannelModel): Promise<void> => {
    const state = { blocked: false };
    connection.on('blocked', () => {
      state.blocked = true;
    });
    connection.on('unblocked', () => {
      state.blocked = false;
      this.flush();
    });
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    const link: Link = {
      connection: state,
      confirm: new ConfirmLink(channel, {
        drain: () => this.flush(),
        close: () => {
          if (this.link !== link) return;
          this.link = null;
          // A channel the broker closed under a live connection: reconnecting recreates it.
          void connection.close().catch(() => undefined);
        },
      }),
    };
    await assertTopology(channel, this.queue);
    // The channel can close in the same read as the last declare-ok: never keep a dead one.
    if (!link.confirm.open) throw new Error('channel closed while declaring the topology');
    this.link = link;
    this.flush();
  };

  readonly detach = (): void => {
    this.link = null;
  };

  publish(event: WriteEvent, deadline: PublishDeadline): Promise<void> {
    const content = encodeWriteEvent(event);
    const refusal = Date.now() >= deadline.sendBy ? 'deadline' : this.refusal(content.length);
    if (refusal !== null) {
      this.observer.refused(refusal);
      return Promise.reject(new BrokerUnavailableError());
    }
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        event,
        content,
        sendBy: deadline.sendBy,
        started: process.hrtime.bigint(),
        attempts: [],
        notBefore: 0,
        timer: null,
        done: false,
        lastError: null,
        resolve,
        reject,
      };
      this.pending.add(pending);
      this.unconfirmedBytes += content.length;
      this.step(pending);
    });
  }

  /** Why a publish of `bytes` would be refused now, or null. */
  private refusal(bytes: number): RefusalReason | null {
    const link = this.link;
    if (link === null || !link.confirm.open) return 'no_channel';
    if (link.connection.blocked) return 'blocked';
    if (!link.confirm.writable) return 'buffer_full';
    if (
      this.pending.size >= this.options.maxUnconfirmed ||
      // A single event larger than the byte budget still goes when nothing else is waiting.
      (this.pending.size > 0 && this.unconfirmedBytes + bytes > this.options.maxUnconfirmedBytes)
    ) {
      return 'unconfirmed_limit';
    }
    return null;
  }

  /** The channel to send on now, if sending is allowed at all. */
  private usable(): ConfirmLink | null {
    const link = this.link;
    if (link === null || link.connection.blocked || !link.confirm.writable) return null;
    return link.confirm;
  }

  /** Decides what a publish does next; called on every change that concerns it. */
  private step(pending: Pending): void {
    if (pending.done) return;
    if (pending.timer !== null) {
      clearTimeout(pending.timer);
      pending.timer = null;
    }
    const now = Date.now();
    let nextCheck = Infinity;
    for (const attempt of pending.attempts) {
      if (attempt.state !== 'sent') continue;
      const expires = attempt.sentAt + this.options.confirmTimeoutMs;
      if (expires <= now) attempt.state = 'timed_out';
      else nextCheck = Math.min(nextCheck, expires);
    }
    if (nextCheck === Infinity) {
      // Nothing outstanding: send (again) if the deadline allows, else give up.
      if (now >= pending.sendBy) return this.fail(pending);
      const channel = this.usable();
      if (pending.notBefore <= now && channel !== null) {
        this.waiting.delete(pending);
        if (this.send(pending, channel)) return this.step(pending);
      }
      this.waiting.add(pending);
      // Flush sends it when a channel is usable again; the timer covers a retry pause and the
      // deadline.
      nextCheck =
        pending.notBefore > now ? Math.min(pending.notBefore, pending.sendBy) : pending.sendBy;
    }
    pending.timer = setTimeout(() => this.step(pending), Math.max(0, nextCheck - now));
  }

  /** Sends once; false when nothing was sent (the channel had closed). */
  private send(pending: Pending, channel: ConfirmLink): boolean {
    if (Date.now() >= pending.sendBy) return false;
    let outcome: Promise<SendOutcome>;
    try {
      outcome = channel.send(this.queue, pending.content, {
        contentType: 'application/json',
        messageId: pending.event.eventId,
        type: pending.event.kind,
        timestamp: Math.floor(Date.now() / 1000),
      });
    } catch (err) {
      pending.lastError = err as Error;
      return false;
    }
    const attempt: Attempt = { state: 'sent', sentAt: Date.now() };
    pending.attempts.push(attempt);
    if (pending.attempts.length > 1) this.observer.republished();
    void outcome.then((result) => this.settle(pending, attempt, result));
    return true;
  }

  private settle(pending: Pending, attempt: Attempt, result: SendOutcome): void {
    // A late confirm after a timeout still counts; a late loss keeps it unknown.
    if (result === 'lost' && attempt.state === 'timed_out') return;
    attempt.state = result;
    if (pending.done) return;
    if (result === 'ack') return this.succeed(pending);
    if (result === 'nack' || result === 'returned') {
      pending.lastError =
        result === 'nack' ? new Error('publish nacked') : new UnroutableError(this.queue);
      pending.notBefore = Date.now() + this.options.retryDelayMs;
    } else {
      pending.lastError = new Error('channel closed before the confirm');
    }
    this.step(pending);
  }

  private succeed(pending: Pending): void {
    this.finish(pending);
    this.observer.confirmed(Number(process.hrtime.bigint() - pending.started) / 1e9);
    pending.resolve();
  }

  private fail(pending: Pending): void {
    this.finish(pending);
    this.observer.failed();
    const mayBeQueued = pending.attempts.some(
      (a) => a.state === 'lost' || a.state === 'timed_out' || a.state === 'sent',
    );
    pending.reject(
      mayBeQueued
        ? new OutcomeUnknownError(pending.lastError ?? undefined)
        : new BrokerUnavailableError(2, pending.lastError ?? undefined),
    );
  }

  private finish(pending: Pending): void {
    pending.done = true;
    if (pending.timer !== null) clearTimeout(pending.timer);
    pending.timer = null;
    this.waiting.delete(pending);
    if (this.pending.delete(pending)) this.unconfirmedBytes -= pending.content.length;
  }

  /** Sends what waits for a channel, as long as the channel takes more. */
  private flush(): void {
    for (const pending of [...this.waiting]) {
      if (this.usable() === null) return;
      this.step(pending);
    }
  }
}
