// The memory server's thread: boot the page allocator from the kernel's description of
// memory (config.ts), reserve a KHO handover's preserved blocks, then serve the memory
// interface (ipc/interfaces/memory.ts). Nothing is served before every preserved block
// is reserved: serve() is called only after MemoryService.start has returned. A restart
// reattaches to the state region the kernel passes (config `state`) and tells the kernel
// (remember) that this server keeps its memory across generations itself.

import { memoryInterface } from '../../ipc/interfaces/memory.js';
import { defineServer } from '../../microkernel/userlib/server.js';
import { memoryConfig, resolveMemoryConfig } from './config.js';
import { MemoryService } from './service.js';

export default defineServer({
  config: memoryConfig,
  init(context) {
    const config = resolveMemoryConfig(context.config, { base: context.ram.base, size: context.ram.size });
    const service = MemoryService.start(context.ram, config, context.log, context.start);
    if (config.state) {
      if (context.start === 'restart') service.reclaimOwn(context.name);
      context.remember(config.state.base);
    }
    context.serve(memoryInterface, service.handlers());
  },
});
