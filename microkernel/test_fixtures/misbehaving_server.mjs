// A server for supervisor tests: behaves as config.behaviour says.
//   hang-after-ready  becomes ready, then loops forever (misses its heartbeats)
//   crash-at-init     throws during init, every generation
//   never-ready       init never resolves
//   anything else     becomes ready; a behaviour that is not a string is refused by the config check
import { Type } from '../../build/ipc/typebox.js';

export default {
  config: Type.Object({ behaviour: Type.String() }, { additionalProperties: false }),
  init(context) {
    if (context.config.behaviour === 'never-ready') return new Promise(() => undefined);
    if (context.config.behaviour === 'crash-at-init') throw new Error('broken on purpose');
    if (context.config.behaviour === 'hang-after-ready') {
      setTimeout(() => {
        for (;;) { /* hung */ }
      }, 0);
    }
  },
};
