/**
 * How busy a loop has been lately: the share of the last `windowMs` spent in its work, from
 * the durations it reports. The trigram indexer gives way while the consumer's share is high
 * (a backlog being drained), and runs at full speed beside a consumer that is mostly idle, so
 * a steady trickle of writes never starves the index.
 */
export class BusyWindow {
  private readonly spans: { end: number; ms: number }[] = [];

  constructor(
    private readonly windowMs: number,
    private readonly threshold: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records work that just finished after `ms`. */
  record(ms: number): void {
    this.spans.push({ end: this.now(), ms });
    this.prune();
  }

  /** Whether at least `threshold` of the last window was spent working. */
  busy(): boolean {
    this.prune();
    const from = this.now() - this.windowMs;
    let worked = 0;
    for (const span of this.spans) worked += Math.min(span.ms, span.end - from);
    return worked >= this.threshold * this.windowMs;
  }

  private prune(): void {
    const from = this.now() - this.windowMs;
    while (this.spans.length > 0 && this.spans[0]!.end <= from) this.spans.shift();
  }
}
