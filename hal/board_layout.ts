// The board's physical address map, in the style of QEMU's RISC-V virt machine.
//
//   0x0010_0000  firmware (finisher, debug console, kexec)    4 KiB
//   0x0200_0000  timer (CLINT: msip, mtimecmp per hart, mtime) 64 KiB
//   0x0c00_0000  interrupt controller (PLIC-style)            4 MiB
//   0x1000_1000  virtio-mmio slot 0, one 4 KiB slot per device, interrupt = slot + 1
//   0x8000_0000  RAM

export const TIMER_BASE = 0x0200_0000;
export const TIMER_SIZE = 0x1_0000;
export const INTERRUPT_CONTROLLER_BASE = 0x0c00_0000;
export const INTERRUPT_CONTROLLER_SIZE = 0x40_0000;
/** Harts on the board unless --cpus says otherwise. */
export const DEFAULT_CPUS = 2;
export const VIRTIO_BASE = 0x1000_1000;
export const VIRTIO_STRIDE = 0x1000;

export function virtioSlotBase(slot: number): number {
  return VIRTIO_BASE + slot * VIRTIO_STRIDE;
}

export function virtioSlotInterrupt(slot: number): number {
  return slot + 1;
}
