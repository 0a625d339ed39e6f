// Entry of a compute thread. Node 20 does not apply the parent's `--import tsx` hooks to worker
// threads reliably, so the thread registers tsx itself before loading the TypeScript module.
import { register } from 'tsx/esm/api';

register();
await import('./compute-thread.ts');
