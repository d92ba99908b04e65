// Binding devices to drivers, in the order of the Linux driver model.
//
// For each device node, its compatible strings are tried most specific first; the first
// driver whose manifest matches wins. virtio-mmio transports all say "virtio,mmio", so a
// virtio driver also names the virtio device id, read from the transport's DeviceID
// register (as Linux's virtio bus matches after the platform driver binds the transport).
// Devices nobody matches stay listed as unbound.

import type { ProgramSpec } from './manifest.js';

export interface DeviceCandidate {
  readonly path: string;
  readonly compatible: readonly string[];
  /** DeviceID of a virtio-mmio transport, 0 when the slot is empty, undefined when not virtio. */
  readonly virtioDeviceId: number | undefined;
}

/** The driver that binds `device`, or undefined. */
export function matchDriver(device: DeviceCandidate, drivers: readonly ProgramSpec[]): ProgramSpec | undefined {
  for (const compatible of device.compatible) {
    for (const driver of drivers) {
      const match = driver.match;
      if (!match || !match.compatible.includes(compatible)) continue;
      if (match.virtioDeviceId !== undefined && match.virtioDeviceId !== device.virtioDeviceId) continue;
      return driver;
    }
  }
  return undefined;
}

/** Instance names: the driver's name when it binds one device, name.N (in tree order) otherwise. */
export function instanceNames(driverOfDevice: readonly (ProgramSpec | undefined)[]): (string | undefined)[] {
  const totals = new Map<string, number>();
  for (const driver of driverOfDevice) if (driver) totals.set(driver.name, (totals.get(driver.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  return driverOfDevice.map((driver) => {
    if (!driver) return undefined;
    const index = seen.get(driver.name) ?? 0;
    seen.set(driver.name, index + 1);
    return totals.get(driver.name) === 1 ? driver.name : `${driver.name}.${index}`;
  });
}
