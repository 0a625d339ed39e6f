#!/usr/bin/env node
// The CLI ships as TypeScript source (see STYLE.md); tsx compiles it on the fly.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
