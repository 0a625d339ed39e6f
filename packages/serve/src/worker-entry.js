// A --workers server process. The package ships as TypeScript source (STYLE.md): tsx compiles it.
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
