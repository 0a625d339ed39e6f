/**
 * The application: what runs on MBN's c-dim embedding after the output step (PCA) — k-means today.
 *
 * An application fits a state on the training embedding, assigns labels to new points from that
 * state, and serialises the state as its own sections of the model file. Implementations live in a
 * registry keyed by their `kind`; the model keeps `application: { kind, state }` and every caller
 * (training, predict's head, the model file, the student pipeline) goes through this file, so a new
 * application is one `application-<kind>.ts` plus its registration (docs/ARCHITECTURE.md).
 *
 * Model file compatibility: format 1 and 2 files were written before there was a tag, by the
 * k-means application. So the default kind, 'kmeans', is written *untagged* (no `application`
 * header field, section `kmeans.centroids` as always), and an absent tag reads as 'kmeans'. That keeps
 * every existing k-means model's bytes, and so its modelHash, unchanged. Any other kind writes the
 * header field `application: { kind, meta? }` and sections named `<kind>.<name>`.
 */
import { ContainerError, type DecodedContainer, type SectionArray } from './container.ts';
import type { TMbnParams } from './params.ts';
import { kmeansApplication } from './application-kmeans.ts';
import { sqDist } from './kmeans.ts';

/** The kind of format-1/2 files (untagged) and of params that name no application. */
export const DEFAULT_APPLICATION = 'kmeans';

/**
 * What a student needs to turn an embedding into labels without the MBN model, tagged by kind so a
 * later application can bring another head. 'nearest-centroid': label = nearest of k centroids
 * (squared Euclidean, ties to the lowest index), k × dim row-major.
 */
export type StudentHead = { kind: 'nearest-centroid'; k: number; centroids: Float64Array };

/** Reads one typed section of the model file (the decoded container). */
export type SectionSource = Pick<DecodedContainer<unknown>, 'section'>;

/**
 * One application. `S` is its fitted state; it must be a pure function of (embedding, params,
 * seed) and serialise to the same bytes every time, because the model's hash identifies the model.
 */
export interface Application<S = unknown> {
  /** Registry key and section-name prefix: lower-case letters, digits and '-'. */
  readonly kind: string;
  /** Fits on the training embedding (n × dim, row-major). */
  fit(embedding: Float64Array, n: number, dim: number, params: TMbnParams, seed: number): S;
  /** Labels of new points (n × dim); on the training embedding these are MBN's training labels. */
  assign(state: S, embedding: Float64Array, n: number, dim: number): Int32Array;
  /** The state's arrays, each named `<kind>.<name>`, in a fixed order. */
  sections(state: S): [string, SectionArray][];
  /** Small JSON-able header fields of the state (canonical: same state, same JSON); omitted when undefined. */
  meta?(state: S): unknown;
  /** The inverse of sections + meta; `dim` is the embedding's dimension. Throws ContainerError on bad data. */
  read(meta: unknown, file: SectionSource, dim: number, what: string): S;
  /** What an embedding student needs to produce labels; absent when the state has no such head. */
  studentHead?(state: S): StudentHead;
}

/** The fitted application a model carries. */
export interface FittedApplication {
  readonly kind: string;
  readonly state: unknown;
}

/** The header field of a tagged (non-default) application. */
export interface ApplicationTag {
  kind: string;
  meta?: unknown;
}

// Built-in applications: adding one is one line here (and its file). Method syntax in Application
// makes Application<S> assignable to Application<unknown>; the registry is the one place that erases S.
const REGISTRY = new Map<string, Application>([[kmeansApplication.kind, kmeansApplication as Application]]);

const KIND = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * Registers an application at run time (a plug-in, or a test). It is known only in this process:
 * worker threads and remote workers see the built-ins only, so an application used with `--remote`
 * must be built in.
 */
export function registerApplication<S>(app: Application<S>): void {
  // 'pca' and 'layer…' prefix the model's own sections; a kind that equals them could collide.
  if (!KIND.test(app.kind) || app.kind === 'pca' || app.kind.startsWith('layer')) {
    throw new TypeError(`application kind '${app.kind}' is not allowed (lower-case letters, digits and '-', not 'pca' or 'layer…')`);
  }
  if (REGISTRY.has(app.kind)) throw new TypeError(`application '${app.kind}' is already registered`);
  REGISTRY.set(app.kind, app as Application);
}

export function applicationKinds(): string[] {
  return [...REGISTRY.keys()];
}

export function isApplicationKind(kind: string): boolean {
  return REGISTRY.has(kind);
}

export function getApplication(kind: string): Application {
  const app = REGISTRY.get(kind);
  if (!app) throw new TypeError(`application '${kind}' is not registered (known: ${applicationKinds().join(', ')})`);
  return app;
}

/** The kind a run's params ask for. */
export function applicationKindOf(params: Pick<TMbnParams, 'application'>): string {
  return params.application ?? DEFAULT_APPLICATION;
}

export function fitApplication(embedding: Float64Array, n: number, dim: number, params: TMbnParams, seed: number): FittedApplication {
  const kind = applicationKindOf(params);
  return { kind, state: getApplication(kind).fit(embedding, n, dim, params, seed) };
}

export function assignApplication(fitted: FittedApplication, embedding: Float64Array, n: number, dim: number): Int32Array {
  return getApplication(fitted.kind).assign(fitted.state, embedding, n, dim);
}

/** The student head of a model's application, or undefined when it has none. */
export function studentHeadOf(fitted: FittedApplication): StudentHead | undefined {
  const app = getApplication(fitted.kind);
  return app.studentHead ? app.studentHead(fitted.state) : undefined;
}

/**
 * Labels from a student head, with the same arithmetic as the application's own assign (for
 * 'nearest-centroid': kmeans.ts's assignNearest), so a student's embedding labels like MBN's would.
 */
export function assignWithStudentHead(head: StudentHead, embedding: Float64Array, n: number, dim: number): Int32Array {
  switch (head.kind) {
    case 'nearest-centroid':
      checkCentroids(head, dim);
      return kmeansApplication.assign({ k: head.k, centroids: head.centroids }, embedding, n, dim);
  }
}

/**
 * How clearly a head places each embedded point: for 'nearest-centroid', the distance to the
 * second-nearest centroid minus the distance to the nearest (0 on a boundary; +Infinity with one
 * centroid). For measuring where a student parts from its teacher, not for labelling.
 */
export function studentHeadMargins(head: StudentHead, embedding: Float64Array, n: number, dim: number): Float64Array {
  switch (head.kind) {
    case 'nearest-centroid': {
      checkCentroids(head, dim);
      if (embedding.length < n * dim) throw new RangeError(`embedding has ${embedding.length} values, need ${n}×${dim}`);
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let best = Infinity;
        let second = Infinity;
        for (let j = 0; j < head.k; j++) {
          const d = sqDist(embedding, i * dim, head.centroids, j * dim, dim);
          if (d < best) {
            second = best;
            best = d;
          } else if (d < second) second = d;
        }
        out[i] = Math.sqrt(second) - Math.sqrt(best);
      }
      return out;
    }
  }
}

function checkCentroids(head: Extract<StudentHead, { kind: 'nearest-centroid' }>, dim: number): void {
  if (head.centroids.length !== head.k * dim) {
    throw new RangeError(`head has ${head.centroids.length} centroid values, need ${head.k}×${dim}`);
  }
}

/** Header fields for the model file: none for the default kind (see the top of this file). */
export function applicationHeader(fitted: FittedApplication): { application?: ApplicationTag } {
  if (fitted.kind === DEFAULT_APPLICATION) return {};
  const meta = getApplication(fitted.kind).meta?.(fitted.state);
  return { application: meta === undefined ? { kind: fitted.kind } : { kind: fitted.kind, meta } };
}

/** The application's sections, checked to carry its kind as prefix so they cannot shadow the model's. */
export function applicationSections(fitted: FittedApplication): [string, SectionArray][] {
  const sections = getApplication(fitted.kind).sections(fitted.state);
  for (const [name] of sections) {
    if (!name.startsWith(`${fitted.kind}.`)) throw new TypeError(`application '${fitted.kind}' wrote section '${name}'; its sections must be named '${fitted.kind}.<name>'`);
  }
  return sections;
}

/** Reads the application of a model file: the tag (absent → k-means), then its sections. */
export function readApplication(tag: ApplicationTag | undefined, params: Pick<TMbnParams, 'application'>, file: SectionSource, dim: number, what: string): FittedApplication {
  if (tag !== undefined && (typeof tag !== 'object' || tag === null || typeof tag.kind !== 'string')) {
    throw new ContainerError(`${what}: the header's application field is not { kind, meta? }`);
  }
  // An explicit 'kmeans' tag is refused: it would re-serialise without the tag, to other bytes.
  if (tag?.kind === DEFAULT_APPLICATION) throw new ContainerError(`${what}: application '${DEFAULT_APPLICATION}' is written untagged; this file's tag is not canonical`);
  const kind = tag?.kind ?? DEFAULT_APPLICATION;
  if (applicationKindOf(params) !== kind) {
    throw new ContainerError(`${what}: the header's application is '${kind}' but its params say '${applicationKindOf(params)}'`);
  }
  const app = REGISTRY.get(kind);
  if (!app) throw new ContainerError(`${what}: application '${kind}' is not known to this build (known: ${applicationKinds().join(', ')})`);
  return { kind, state: app.read(tag?.meta, file, dim, what) };
}
