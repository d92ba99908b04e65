// The retransmission timeout (RFC 6298): smoothed RTT and its variation from samples
// taken only of segments sent once (Karn's rule, enforced by the caller), RTO = SRTT +
// max(G, 4·RTTVAR) kept between 1 s and 60 s, doubled on each expiry (back-off) until a
// new sample.

export const MINIMUM_RTO_MS = 1000;
export const MAXIMUM_RTO_MS = 60_000;
export const INITIAL_RTO_MS = 1000;
const GRANULARITY_MS = 1;

export class RetransmissionTimer {
  smoothed: number | undefined;
  variation = 0;
  private base = INITIAL_RTO_MS;
  private backoff = 0;

  /** The timeout to arm now. */
  get timeoutMs(): number {
    return Math.min(MAXIMUM_RTO_MS, this.base * 2 ** this.backoff);
  }

  /** A round-trip sample (ms) of a segment that was not retransmitted. */
  sample(rttMs: number): void {
    if (this.smoothed === undefined) {
      this.smoothed = rttMs;
      this.variation = rttMs / 2;
    } else {
      this.variation = 0.75 * this.variation + 0.25 * Math.abs(this.smoothed - rttMs);
      this.smoothed = 0.875 * this.smoothed + 0.125 * rttMs;
    }
    this.base = Math.min(MAXIMUM_RTO_MS, Math.max(MINIMUM_RTO_MS, this.smoothed + Math.max(GRANULARITY_MS, 4 * this.variation)));
    this.backoff = 0;
  }

  /** The timer expired: back off. */
  expired(): void {
    if (this.timeoutMs < MAXIMUM_RTO_MS) this.backoff++;
  }

  /** New data was acknowledged (RFC 6298 §5.7 lets the back-off go only with a sample; baton keeps it until one). */
  get backedOff(): boolean {
    return this.backoff > 0;
  }
}
