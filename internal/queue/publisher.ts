import { randomUUID } from 'node:crypto';
import type { ChannelModel } from 'amqplib';
import type { WriteEvent } from '../domain/model.js';
import type { PublishDeadline, WritePublisher } from '../domain/ports.js';
import { BrokerUnavailableError, OutcomeUnknownError } from '../domain/errors.js';
import {
  ENVELOPE_CONTENT_TYPE,
  ENVELOPE_EVENTS_HEADER,
  encodeEnvelope,
  encodeWriteEvent,
} from '../domain/events.js';
import { assertTopology } from './topology.js';
import { ConfirmLink, UnroutableError, type SendOutcome } from './confirm.js';

/** Why a publish was refused before anything was sent. */
export const REFUSAL_REASONS = [
  'no_channel',
  'blocked',
  'buffer_full',
  'unconfirmed_limit',
  'deadline',
  // A partitioned API whose set's lease in the registry could not be renewed in time.
  'no_lease',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export interface PublisherObserver {
  confirmed(seconds: number): void;
  /** An accepted publish ended without a confirm (503 broker_unavailable or outcome_unknown). */
  failed(): void;
  refused(reason: RefusalReason): void;
  /** The same event was sent again after a lost channel, a nack, a return or a slow confirm. */
  republished(): void;
  /** One AMQP message was written carrying `events` events (1: a plain event message). */
  sent(events: number): void;
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
  /** Events in one envelope, at most; 1 turns coalescing off (every event its own message). */
  readonly envelopeMaxEvents: number;
  /** An envelope's body bytes, at most (a single larger event still goes, alone). */
  readonly envelopeMaxBytes: number;
  /**
   * How long the first event of an envelope may wait for others while the publisher is busy,
   * in microseconds; 0: only the events published in the same turn of the event loop. Waiting
   * longer polls the event loop without sleeping (timers have a 1 ms granularity): CPU spent
   * for larger envelopes, which the default does not spend.
   */
  readonly envelopeLingerUs: number;
}

const DEFAULTS: PublisherOptions = {
  maxUnconfirmed: 5_000,
  maxUnconfirmedBytes: 32 * 1024 * 1024,
  confirmTimeoutMs: 5_000,
  retryDelayMs: 100,
  envelopeMaxEvents: 100,
  envelopeMaxBytes: 256 * 1024,
  envelopeLingerUs: 0,
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
  /** In the envelope being gathered: its send is decided when the envelope goes. */
  queued: boolean;
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
 * - Group commit: while earlier sends await their confirm, new events are gathered into one
 *   envelope (one message, one confirm for all of them), sent when it reaches
 *   envelopeMaxEvents or envelopeMaxBytes, after envelopeLingerUs, or as soon as nothing is
 *   awaiting a confirm any more. An idle publisher sends an event at once, alone, as a plain
 *   event message: no latency is added at low load. Envelopes are only a way to carry sends:
 *   every event keeps its own state, deadline and outcome, so an event sent again after a
 *   loss rides in whatever envelope goes next, with its own event id, and an event past its
 *   `sendBy` is dropped from the envelope it would have joined and answered as before.
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
  /** The envelope being gathered, and since when its first event waits. */
  private outbox: Pending[] = [];
  private outboxBytes = 0;
  private outboxSince = 0n;
  private lingering = false;
  /** Messages written and not settled yet: while none, a publish goes at once. */
  private inFlight = 0;

  constructor(
    private readonly queue: string,
    private readonly observer: PublisherObserver,
    options: Partial<PublisherOptions> = {},
    /** The base queue whose dead-letter queue this one shares (itself unless a partition). */
    private readonly base: string = queue,
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
    await assertTopology(channel, this.queue, this.base);
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
        queued: false,
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
    if (pending.done || pending.queued) return;
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
        if (
          this.outbox.length === 0 &&
          (this.inFlight === 0 || this.options.envelopeMaxEvents === 1)
        ) {
          if (this.send([pending], channel)) return this.step(pending);
        } else {
          return this.gather(pending);
        }
      }
      this.waiting.add(pending);
      // Flush sends it when a channel is usable again; the timer covers a retry pause and the
      // deadline.
      nextCheck =
        pending.notBefore > now ? Math.min(pending.notBefore, pending.sendBy) : pending.sendBy;
    }
    pending.timer = setTimeout(() => this.step(pending), Math.max(0, nextCheck - now));
  }

  /** Adds a publish to the envelope being gathered; sends the envelope once it is full. */
  private gather(pending: Pending): void {
    const bytes = pending.content.length + 1;
    if (this.outbox.length > 0 && this.outboxBytes + bytes > this.options.envelopeMaxBytes) {
      this.sendOutbox();
    }
    if (this.outbox.length === 0) this.outboxSince = process.hrtime.bigint();
    pending.queued = true;
    this.outbox.push(pending);
    this.outboxBytes += bytes;
    if (
      this.outbox.length >= this.options.envelopeMaxEvents ||
      this.outboxBytes >= this.options.envelopeMaxBytes
    ) {
      this.sendOutbox();
    } else if (!this.lingering) {
      this.lingering = true;
      setImmediate(this.linger);
    }
  }

  /**
   * Checked once per turn of the event loop (after its I/O), so everything published in the
   * same turn joins the envelope; sub-millisecond waits cannot be timers (1 ms granularity).
   */
  private readonly linger = (): void => {
    if (this.outbox.length === 0) {
      this.lingering = false;
      return;
    }
    const waitedUs = Number(process.hrtime.bigint() - this.outboxSince) / 1_000;
    if (waitedUs >= this.options.envelopeLingerUs) {
      this.lingering = false;
      this.sendOutbox();
    } else {
      setImmediate(this.linger);
    }
  };

  /** Sends the gathered envelope, leaving out what is past its deadline or settled. */
  private sendOutbox(): void {
    const gathered = this.outbox;
    this.outbox = [];
    this.outboxBytes = 0;
    for (const pending of gathered) pending.queued = false;
    const now = Date.now();
    const channel = this.usable();
    const sendable = gathered.filter((p) => !p.done && now < p.sendBy);
    if (channel !== null && sendable.length > 0) this.send(sendable, channel);
    // Each one's next step: its confirm timer if sent, else a wait, a retry or its failure.
    for (const pending of gathered) this.step(pending);
  }

  /**
   * Sends the publishes as one message (a plain event message when alone, else an envelope);
   * false when nothing was sent (the channel had closed).
   */
  private send(publishes: readonly Pending[], channel: ConfirmLink): boolean {
    const now = Date.now();
    const sendable = publishes.filter((p) => now < p.sendBy);
    const first = sendable[0];
    if (first === undefined) return false;
    const timestamp = Math.floor(now / 1000);
    let outcome: Promise<SendOutcome>;
    try {
      outcome =
        sendable.length === 1
          ? channel.send(this.queue, first.content, {
              contentType: 'application/json',
              messageId: first.event.eventId,
              type: first.event.kind,
              timestamp,
            })
          : channel.send(this.queue, encodeEnvelope(sendable.map((p) => p.content)), {
              contentType: ENVELOPE_CONTENT_TYPE,
              messageId: randomUUID(),
              type: 'envelope',
              timestamp,
              headers: { [ENVELOPE_EVENTS_HEADER]: sendable.length },
            });
    } catch (err) {
      for (const pending of sendable) pending.lastError = err as Error;
      return false;
    }
    this.inFlight += 1;
    this.observer.sent(sendable.length);
    const attempts = sendable.map((pending) => {
      const attempt: Attempt = { state: 'sent', sentAt: now };
      pending.attempts.push(attempt);
      if (pending.attempts.length > 1) this.observer.republished();
      return attempt;
    });
    void outcome.then((result) => {
      this.inFlight -= 1;
      for (const [i, pending] of sendable.entries()) this.settle(pending, attempts[i]!, result);
      // Nothing awaits a confirm any more: what was gathered meanwhile need not wait longer.
      if (this.inFlight === 0 && this.outbox.length > 0) this.sendOutbox();
    });
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
