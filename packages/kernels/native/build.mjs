// `npm run build:blas`: node-gyp rebuild of the OpenBLAS addon (build/Release/cmbn_blas.node).
// Uses the Node headers installed beside this node binary when present (Debian's /usr/include/node,
// the official images' /usr/local/include/node), so the build needs no download; otherwise node-gyp
// fetches them as usual. Needs libopenblas-dev, python3, make and g++.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const prefix = path.resolve(path.dirname(process.execPath), '..');
const args = ['rebuild'];
if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

// npm hands scripts the path of its bundled node-gyp; outside npm, find it next to npm itself.
function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp;
  const npmCli = process.env.npm_execpath;
  if (npmCli) {
    try {
      return createRequire(npmCli).resolve('node-gyp/bin/node-gyp.js');
    } catch {
      // fall through
    }
  }
  const bundled = path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  return existsSync(bundled) ? bundled : null;
}

const gyp = nodeGyp();
const r = gyp ? spawnSync(process.execPath, [gyp, ...args], { cwd: here, stdio: 'inherit' }) : spawnSync('node-gyp', args, { cwd: here, stdio: 'inherit' });
if (r.status !== 0) {
  process.stderr.write(
    `build:blas failed (${r.error ? r.error.message : `exit ${r.status}`}). It needs libopenblas-dev (apt-get install -y libopenblas-dev), python3, make and g++.\n`,
  );
  process.exit(1);
}
