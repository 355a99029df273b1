import { connect, type ChannelModel } from 'amqplib';
import type { Logger } from '../log/logger.js';

export interface AmqpConnectionOptions {
  /**
   * One URL per broker node (a single one for a single node). Each (re)connect tries them in
   * turn, starting after the last one that worked, so a node that died is skipped at once;
   * the backoff applies once every node has failed.
   */
  readonly urls: readonly string[];
  /**
   * The node tried first; random by default, so that processes (and the quorum queues they
   * declare, led by the node they declared them on) spread over the cluster's nodes.
   */
  readonly firstNode?: number;
  readonly name: string;
  readonly logger: Logger;
  /** Runs after every (re)connect: create channels, assert topology, start consuming. */
  readonly onConnect: (connection: ChannelModel) => Promise<void>;
  readonly onDisconnect?: () => void;
  readonly maxBackoffMs?: number;
  /** amqplib's connect; tests pass an in-memory fake. */
  readonly connect?: (url: string, options: object) => Promise<ChannelModel>;
}

/**
 * One long-lived AMQP connection per process, re-established with exponential backoff.
 * Callers never wait for a reconnect: while it is down they see `connected === false`.
 */
export class AmqpConnection {
  private connection: ChannelModel | null = null;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private firstConnect: Promise<void> | null = null;
  /** The node tried next. */
  private next: number;

  constructor(private readonly options: AmqpConnectionOptions) {
    this.next = options.firstNode ?? Math.floor(Math.random() * options.urls.length);
  }

  get connected(): boolean {
    return this.connection !== null;
  }

  /** Starts connecting; resolves at the first successful connection. */
  start(): Promise<void> {
    this.firstConnect ??= new Promise<void>((resolve) => {
      this.onFirstConnect = resolve;
      void this.tryConnect();
    });
    return this.firstConnect;
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    const connection = this.connection;
    this.connection = null;
    if (connection !== null) await connection.close().catch(() => undefined);
  }

  private onFirstConnect: () => void = () => undefined;

  private async tryConnect(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    try {
      await this.open();
      this.attempt = 0;
      this.onFirstConnect();
    } catch (err) {
      this.attempt += 1;
      const delay = Math.min(100 * 2 ** this.attempt, this.options.maxBackoffMs ?? 10_000);
      this.options.logger.warn({ err, delayMs: delay }, 'rabbitmq connection failed; retrying');
      this.schedule(delay);
    }
  }

  private schedule(delayMs: number): void {
    if (!this.stopped && this.timer === null) {
      this.timer = setTimeout(() => void this.tryConnect(), delayMs);
    }
  }

  /** Tries every node once, in turn; throws the last failure when none takes the connection. */
  private async open(): Promise<void> {
    const { urls } = this.options;
    if (urls.length === 0) throw new Error('no RabbitMQ URL');
    let failure: Error | null = null;
    for (let tried = 0; tried < urls.length && !this.stopped; tried += 1) {
      const index = this.next % urls.length;
      this.next = index + 1;
      try {
        await this.openOne(urls[index]!);
        // Reconnect to the node that worked first: a healthy cluster keeps its spread.
        this.next = index;
        return;
      } catch (err) {
        failure = err instanceof Error ? err : new Error(String(err));
        if (urls.length > 1) {
          this.options.logger.warn(
            { err, node: index },
            'rabbitmq node unreachable; trying the next',
          );
        }
      }
    }
    throw failure ?? new Error('stopped');
  }

  private async openOne(url: string): Promise<void> {
    const connection = await (this.options.connect ?? connect)(url, {
      clientProperties: { connection_name: this.options.name },
      timeout: 5_000,
      // amqplib leaves Nagle's algorithm on: a message written while an earlier one is not
      // acknowledged by TCP yet (an envelope's body frames, a lone publish at low load) would
      // wait for the broker's delayed ACK, milliseconds added to every confirm.
      noDelay: true,
    });
    connection.on('error', (err: Error) =>
      this.options.logger.warn({ err }, 'rabbitmq connection error'),
    );
    connection.on('blocked', (reason: string) =>
      this.options.logger.warn({ reason }, 'rabbitmq connection blocked'),
    );
    connection.on('unblocked', () => this.options.logger.info('rabbitmq connection unblocked'));
    let closed = false;
    connection.on('close', () => {
      closed = true;
      if (this.connection !== connection) return;
      this.connection = null;
      this.options.onDisconnect?.();
      if (!this.stopped) {
        this.options.logger.warn('rabbitmq connection closed; reconnecting');
        this.schedule(100);
      }
    });
    try {
      await this.options.onConnect(connection);
      // It can close in the same read as onConnect's last reply: never keep a dead one.
      if (closed) throw new Error('connection closed while setting up');
    } catch (err) {
      await connection.close().catch(() => undefined);
      throw err;
    }
    this.connection = connection;
    this.options.logger.info('rabbitmq connected');
  }
}
