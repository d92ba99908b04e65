// The module a driver folder's test starts: `startDriverWithDevice({ module: await
// driverModule(new URL('.', import.meta.url)), ... })`.
//
// Inside the tree that is the folder's `tsc -b` output; outside it, the output of compiling
// the folder exactly as `load` does. Both come from the driver loader (tools/driver_loader.ts),
// which this harness runs compiled, from build/, as it runs every server and driver: the
// harness sits below the tests of servers and drivers, so it does not import tools/ modules
// (the compiler would let those tests reach tools/ through it).

/** The loader's answer for one folder, as tools/driver_loader.ts's harnessModule gives it. */
type HarnessModule = (folder: string | URL) => string;

/** The module path below build/ (`drivers/virtio-rng/main`) that the harness starts for the driver folder `folder`. */
export async function driverModule(folder: string | URL): Promise<string> {
  const loader = (await import(new URL('../../build/tools/driver_loader.js', import.meta.url).href)) as { harnessModule: HarnessModule };
  return loader.harnessModule(folder);
}
