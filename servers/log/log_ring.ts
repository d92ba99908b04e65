// The log ring: the last N records of every server, oldest dropped first (as the kernel's
// printk buffer), and their one-line text form for dmesg and the console.

export interface StoredRecord {
  readonly time: number;
  readonly level: number;
  readonly server: string;
  readonly generation: number;
  readonly message: string;
  readonly fields?: string;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export function levelName(level: number): string {
  return LEVEL_NAMES[level] ?? `level${level}`;
}

/** `[    1.234567] warn  console#2: message {"key":1}` */
export function formatRecord(record: StoredRecord): string {
  const seconds = (record.time / 1000).toFixed(6).padStart(12, ' ');
  const fields = record.fields ? ` ${record.fields}` : '';
  return `[${seconds}] ${levelName(record.level).padEnd(5)} ${record.server}#${record.generation}: ${record.message}${fields}`;
}

export class LogRing {
  readonly capacity: number;
  private readonly records: StoredRecord[] = [];
  private start = 0;
  dropped = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('log ring capacity must be a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.records.length;
  }

  append(record: StoredRecord): void {
    if (this.records.length < this.capacity) {
      this.records.push(record);
      return;
    }
    this.records[this.start] = record;
    this.start = (this.start + 1) % this.capacity;
    this.dropped++;
  }

  /** The last `count` records (all when undefined), oldest first. */
  last(count?: number): StoredRecord[] {
    const ordered = [...this.records.slice(this.start), ...this.records.slice(0, this.start)];
    return count === undefined ? ordered : ordered.slice(Math.max(0, ordered.length - count));
  }
}
