/**
 * The Python route of docs/STUDENTS.md, run as written: its two ```python blocks, taken from the doc
 * itself, run in Python's onnxruntime (no cmbn code on that path) on students published to a real
 * registry (Postgres, artifact store) and pulled as `cmbn models pull` does, and get the labels that
 * `cmbn predict` gets from the same pulled files (createStudentLabeler, with the head for an embedding
 * student), for model.onnx and model.int8.onnx.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FileArtifactStore } from '@cmbn/artifacts';
import { encodeNpy, loadDataset, type Matrix } from '@cmbn/data';
import { activationRanges, createStudentPredictor, loadStudent, mnistShapedStudent, readStudentMeta, saveStudent, type TrainedStudent } from '@cmbn/distill';
import { createTestDatabase, getDb, type TestDatabase } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { centroidHead, createStudentLabeler, isCentroidHead, publishStudent, pullStudent } from './index.ts';

const run = promisify(execFile);
const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const DOC = join(REPO, 'docs/STUDENTS.md');
const PYTHON = process.env.CMBN_PYTHON ?? join(REPO, '.venv-py/bin/python');
const N = 300;
const lineage = { runId: null, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: { V: 20 }, backend: 'wasm' };

let db: TestDatabase;
let root: string;
let store: FileArtifactStore;
let digits: Matrix;
let npyPath: string;
/** The doc's two ```python blocks, read once. */
let blocks: [string, string];

/** An MNIST-shaped hand-set student, calibrated as trainStudent leaves it. */
async function student(kind: 'labels' | 'embedding'): Promise<TrainedStudent> {
  const s = mnistShapedStudent(kind);
  s.activationRanges = await activationRanges(s, digits as Matrix & { dtype: 'uint8' });
  return s;
}

/** The doc's ```python blocks under "## Python (onnxruntime)": the session, then the embedding head. */
async function docBlocks(): Promise<[string, string]> {
  const doc = await readFile(DOC, 'utf8');
  const section = /## Python \(onnxruntime\)\n([\s\S]*?)\n## /.exec(doc)?.[1];
  const blocks = [...(section ?? '').matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!);
  if (blocks.length !== 2) throw new Error(`${DOC}: expected 2 \`\`\`python blocks under "## Python (onnxruntime)", found ${blocks.length}`);
  return [blocks[0]!, blocks[1]!];
}

/** Runs the doc's blocks on a pulled directory in Python and returns the labels they end with. */
async function pythonLabels(dir: string, precision: 'fp32' | 'int8', embedding: boolean): Promise<number[]> {
  const [session, head] = blocks;
  const fill = (code: string) => code.replaceAll('DIR/', `${dir}/`).replaceAll('"digits.npy"', JSON.stringify(npyPath));
  expect(session).toContain('sig["files"]["int8"]');
  const script = [
    fill(precision === 'fp32' ? session.replace('sig["files"]["int8"]', 'sig["files"]["fp32"]') : session),
    embedding ? fill(head) : '',
    // Which file the session opened: the precision is in each file's metadata.
    'print(sess.get_modelmeta().custom_metadata_map["cmbn.precision"])',
    'print(json.dumps([int(v) for v in labels]))',
  ].join('\n');
  const file = join(root, `snippet-${precision}-${embedding ? 'embedding' : 'labels'}.py`);
  await writeFile(file, script);
  const { stdout } = await run(PYTHON, [file], { timeout: 60_000, maxBuffer: 1 << 20 });
  const [opened, labels] = stdout.trim().split('\n').slice(-2);
  expect(opened, 'the file the snippet opened').toBe(precision);
  return JSON.parse(labels!) as number[];
}

beforeAll(async () => {
  if (!existsSync(PYTHON)) {
    throw new Error(`no Python at ${PYTHON}: python3 -m venv .venv-py && .venv-py/bin/pip install 'onnxruntime==1.30.*' numpy (or set CMBN_PYTHON); .ci/run does this`);
  }
  blocks = await docBlocks();
  db = await createTestDatabase();
  getDb(db.url);
  root = await mkdtemp(join(tmpdir(), 'cmbn-onnx-python-'));
  store = new FileArtifactStore(join(root, 'artifacts'));
  digits = (await loadDataset('mnist-test', { limit: N })).x;
  npyPath = join(root, 'digits.npy');
  await writeFile(npyPath, encodeNpy(digits));
});
afterAll(async () => {
  await db?.drop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe("a pulled student in Python's onnxruntime (the docs/STUDENTS.md snippets)", () => {
  for (const kind of ['labels', 'embedding'] as const) {
    it(`${kind} student: model.onnx and model.int8.onnx give cmbn predict's labels`, async () => {
      const s = await student(kind);
      const src = join(root, `${kind}-saved`);
      let meta: Record<string, unknown> = { note: 'python' };
      if (kind === 'embedding') {
        // The head: the embeddings of the first 10 digits as centroids, so the labels are spread.
        const p = await createStudentPredictor(s, { precision: 'fp32', threads: 1 });
        const emb = await p.predict(digits).finally(() => p.dispose());
        meta = { ...meta, head: centroidHead(Float64Array.from(emb.values!.subarray(0, 100)), 10) };
      }
      await saveStudent(s, src, meta);
      await publishStudent({ studentDir: src, name: `py-${kind}`, store, lineage, metrics: {} });
      const pulled = join(root, `${kind}-pulled`);
      await pullStudent({ ref: `py-${kind}:1`, outDir: pulled, store });

      const loaded = await loadStudent(pulled);
      const pulledMeta = await readStudentMeta(pulled);
      const head = isCentroidHead(pulledMeta.head) ? pulledMeta.head : undefined;
      expect(head !== undefined, kind).toBe(kind === 'embedding');
      for (const precision of ['fp32', 'int8'] as const) {
        // What `cmbn predict --model PULLED` runs (apps/cli/src/commands/predict-student.ts).
        const labeler = await createStudentLabeler(loaded, { ...(head ? { head } : {}), precision, threads: 1 });
        const want = Array.from((await labeler.predict(digits).finally(() => labeler.dispose())).labels);
        const got = await pythonLabels(pulled, precision, kind === 'embedding');
        expect(got, `${kind} ${precision}`).toEqual(want);
        // More than a couple of labels: a constant answer would match whatever the weights were.
        expect(new Set(got).size, `${kind} ${precision}`).toBeGreaterThan(2);
      }
    });
  }
});
