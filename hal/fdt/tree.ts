// The in-memory shape of a flattened device tree (devicetree specification v0.4, ch. 5).
//
// A tree is plain data: nodes with ordered properties (name + raw bytes) and ordered
// children. encode.ts turns it into a blob, decode.ts back; values.ts converts property
// bytes to and from numbers and strings; dts.ts prints it as DTS text.
//
// Node names carry their unit address ("memory@80000000"); the root's name is "".

export interface FdtProperty {
  name: string;
  value: Uint8Array;
}

export interface FdtNode {
  /** Node name with unit address, e.g. "memory@80000000"; the root is "". */
  name: string;
  properties: FdtProperty[];
  children: FdtNode[];
}

/** One /memreserve/ entry of the memory reservation block. */
export interface FdtReservation {
  address: bigint;
  size: bigint;
}

export interface Fdt {
  root: FdtNode;
  reservations: FdtReservation[];
  /** Header field boot_cpuid_phys: the physical id (reg) of the boot CPU. */
  bootCpuId: number;
}

/** Every error of the FDT library: malformed blobs, bad values, trees that cannot be encoded. */
export class FdtError extends Error {
  readonly code = 'FDT_INVALID';

  constructor(message: string) {
    super(message);
    this.name = 'FdtError';
  }
}

/** Builds a node; properties keep the insertion order of `properties`. */
export function node(name: string, properties: Record<string, Uint8Array> = {}, children: FdtNode[] = []): FdtNode {
  return {
    name,
    properties: Object.entries(properties).map(([propertyName, value]) => ({ name: propertyName, value })),
    children,
  };
}

/** The part of a node name before '@' ("memory" for "memory@80000000"). */
export function baseName(name: string): string {
  const at = name.indexOf('@');
  return at < 0 ? name : name.slice(0, at);
}

/** The unit address of a node name ("80000000" for "memory@80000000"), or undefined if it has none. */
export function unitAddress(name: string): string | undefined {
  const at = name.indexOf('@');
  return at < 0 ? undefined : name.slice(at + 1);
}

/**
 * The child of `parent` named `name`. As libfdt does, a name without '@' also matches a
 * child "name@<anything>" when no child is named exactly `name`; the first such child wins.
 */
export function findChild(parent: FdtNode, name: string): FdtNode | undefined {
  const exact = parent.children.find((child) => child.name === name);
  if (exact || name.includes('@')) return exact;
  return parent.children.find((child) => baseName(child.name) === name);
}

/**
 * The node at an absolute `path` ("/", "/chosen", "/soc/plic@c000000"), or undefined.
 * Components without a unit address match as in findChild.
 */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  if (!path.startsWith('/')) return undefined;
  let current: FdtNode | undefined = root;
  for (const component of path.split('/')) {
    if (component === '') continue;
    current = findChild(current, component);
    if (!current) return undefined;
  }
  return current;
}

/** The value of the first property called `name`, or undefined. The bytes are not copied. */
export function getProperty(target: FdtNode, name: string): Uint8Array | undefined {
  return target.properties.find((property) => property.name === name)?.value;
}

/** Replaces the value of property `name`, or appends the property if the node lacks it. */
export function setProperty(target: FdtNode, name: string, value: Uint8Array): void {
  const existing = target.properties.find((property) => property.name === name);
  if (existing) existing.value = value;
  else target.properties.push({ name, value });
}

/** Removes every property called `name`; returns whether there was one. */
export function removeProperty(target: FdtNode, name: string): boolean {
  const before = target.properties.length;
  target.properties = target.properties.filter((property) => property.name !== name);
  return target.properties.length !== before;
}

/** Removes every child named exactly `name`; returns whether there was one. */
export function removeChild(target: FdtNode, name: string): boolean {
  const before = target.children.length;
  target.children = target.children.filter((child) => child.name !== name);
  return target.children.length !== before;
}
