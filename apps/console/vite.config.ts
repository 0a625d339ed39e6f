import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The console is served by the coordinator at `/` from apps/console/dist (apps/coordinator/src/console-routes.ts).
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false },
});
