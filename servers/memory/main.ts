// The memory server's thread: boot the page allocator from the kernel's description of
// memory (config.ts), reserve a KHO handover's preserved blocks, then serve the memory
// interface (ipc/interfaces/memory.ts). Nothing is served before every preserved block
// is reserved: serve() is called only after MemoryService.boot has returned.

import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { resolveMemoryConfig } from './config.js';
import { MemoryService } from './service.js';

export default defineServer({
  init(context) {
    const config = resolveMemoryConfig(context.config, { base: context.ram.base, size: context.ram.size });
    const service = MemoryService.boot(context.ram, config, context.log);
    context.serve(memoryInterface, service.handlers());
  },
});
