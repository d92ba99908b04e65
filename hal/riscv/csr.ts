// The CSRs a U-mode program can reach with Zicsr: the read-only counters cycle, time and
// instret and their high halves (the unprivileged spec's Zicntr). `cycle` counts retired
// instructions, as a hart that retires one per cycle would; `time` is the board's mtime.
// Every other CSR, and any write to these (they are read-only: bits 11:10 = 11), raises
// an illegal-instruction exception, as a CSR that does not exist or is not accessible from
// U-mode does.

export const Csr = {
  Cycle: 0xc00, Time: 0xc01, Instret: 0xc02, CycleHigh: 0xc80, TimeHigh: 0xc81, InstretHigh: 0xc82,
} as const;

/** The value of `csr` read from U-mode, or undefined if the read is illegal. `retired` and `time` are 64-bit counts. */
export function readUserCsr(csr: number, retired: number, time: () => number): number | undefined {
  switch (csr) {
    case Csr.Cycle: case Csr.Instret: return retired % 2 ** 32 | 0;
    case Csr.CycleHigh: case Csr.InstretHigh: return Math.floor(retired / 2 ** 32) | 0;
    case Csr.Time: return time() % 2 ** 32 | 0;
    case Csr.TimeHigh: return Math.floor(time() / 2 ** 32) | 0;
    default: return undefined;
  }
}
