/** The fault table: printed at the end of the suite and written to .cmbn-hosts/ as JSON. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './procs.ts';

export interface FaultRow {
  fault: string;
  /** 'SUCCEEDED, local modelHash' or what went wrong. */
  outcome: string;
  ok: boolean;
  /** How long the fault lasted (cut, down, or dead), seconds. */
  outageSeconds: number | null;
  /** From the restore (link up, server started) to the next shard the run counted, seconds. */
  recoverySeconds: number | null;
  /** From the restore to the first shard finished by the host that was cut off (link fault only). */
  hostBackSeconds?: number | null;
  /** Layer-1 shards done / total when the fault came (it must come mid-layer). */
  atShards: string;
  /** Shards DONE in Postgres when the fault was injected (its snapshot). */
  doneAtFault: number | null;
  /** Of those, still DONE with the same outputSha256 at the end (must be all of them). */
  doneKept: number | null;
  /** Of those, computed again by a worker after the fault ("shard done" lines); allowed, see hosts.test.ts. */
  redone: number | null;
  /** Of those, whose row's attempts, workerId or updatedAt changed (the registry never rewrites a DONE row). */
  rowsChanged: number | null;
  /** The whole `cmbn train --remote` run, submission to exit, seconds. */
  runSeconds: number | null;
}

export interface SuiteReport {
  suite: 'hosts';
  date: string;
  dataset: string;
  params: Record<string, number>;
  localModelHash: string | null;
  localSeconds: number | null;
  topology: Record<string, string>;
  settings: Record<string, number>;
  rows: FaultRow[];
}

const s = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(1));

export function formatTable(rows: FaultRow[]): string {
  const head = ['fault', 'outcome', 'outage s', 'recovery s', 'at shards', 'DONE kept', 'redone', 'rows changed', 'run s'];
  const n = (v: number | null) => (v === null ? '—' : String(v));
  const body = rows.map((r) => [
    r.fault,
    r.outcome + (r.hostBackSeconds !== undefined ? ` (cut host back after ${s(r.hostBackSeconds)} s)` : ''),
    s(r.outageSeconds),
    s(r.recoverySeconds),
    r.atShards,
    r.doneAtFault === null ? '—' : `${n(r.doneKept)}/${r.doneAtFault}`,
    n(r.redone),
    n(r.rowsChanged),
    s(r.runSeconds),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export async function writeReport(report: SuiteReport): Promise<string> {
  const dir = join(REPO_ROOT, '.cmbn-hosts');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'faults.json');
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
