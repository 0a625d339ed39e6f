import { encodeNpy } from '@cmbn/data';
import { describe, expect, it } from 'vitest';
import { ServeError, toErrorResponse } from './errors.ts';
import { formatOf, parseBody, type InputSignature } from './parse-input.ts';

const u8: InputSignature = { inputDims: 3, inputDType: 'uint8' };
const f32: InputSignature = { inputDims: 3, inputDType: 'float32' };
const json = (o: unknown) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
const text = (s: string) => new TextEncoder().encode(s);
/** A hand-built .npy (v1.0): magic, header length, the header dict padded to 64 bytes, data. */
function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, ...text('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(text(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

function refused(body: Uint8Array, format: 'json' | 'csv' | 'npy', sig: InputSignature) {
  try {
    parseBody(body, format, sig);
  } catch (err) {
    return toErrorResponse(err);
  }
  throw new Error('expected a refusal');
}

describe('formatOf', () => {
  it('maps the three content types (parameters and case ignored) and nothing else', () => {
    expect(formatOf('application/json; charset=utf-8')).toBe('json');
    expect(formatOf('Text/CSV')).toBe('csv');
    expect(formatOf('application/x-npy')).toBe('npy');
    expect(formatOf('application/octet-stream')).toBeUndefined();
    expect(formatOf(undefined)).toBeUndefined();
  });
});

describe('parseBody: every accepted shape gives the same matrix', () => {
  const rows = [
    [0, 7, 255],
    [1, 2, 3],
  ];
  const expected = { rows: 2, cols: 3, dtype: 'uint8', data: Uint8Array.from(rows.flat()) };
  it.each([
    ['inputs', json({ inputs: rows }), 'json'],
    ['instances', json({ instances: rows }), 'json'],
    ['dataframe_split', json({ dataframe_split: { columns: ['a', 'b', 'c'], data: rows } }), 'json'],
    ['csv with header', text('a,b,c\n0,7,255\n1,2,3\n'), 'csv'],
    ['npy uint8', encodeNpy({ rows: 2, cols: 3, dtype: 'uint8', data: Uint8Array.from(rows.flat()) }), 'npy'],
    ['npy float32 holding bytes', encodeNpy({ rows: 2, cols: 3, dtype: 'float32', data: Float32Array.from(rows.flat()) }), 'npy'],
  ] as const)('%s', (_name, body, format) => {
    expect(parseBody(body, format, u8)).toEqual(expected);
  });

  it('float32 models take uint8 npy (converted) and fractional JSON', () => {
    const m = parseBody(encodeNpy({ rows: 1, cols: 3, dtype: 'uint8', data: Uint8Array.of(1, 2, 3) }), 'npy', f32);
    expect(m).toEqual({ rows: 1, cols: 3, dtype: 'float32', data: Float32Array.of(1, 2, 3) });
    expect(parseBody(json({ inputs: [[0.5, -1e3, 2]] }), 'json', f32).data).toEqual(Float32Array.of(0.5, -1000, 2));
  });
});

describe('parseBody: refusals name the problem, the row and the column', () => {
  it.each([
    ['wrong width (JSON)', json({ inputs: [[1, 2, 3], [1, 2]] }), 'json', u8, 'WRONG_WIDTH', /row 2 has 2 values; this model's signature takes 3/, { row: 2 }],
    ['wrong width (CSV)', text('1,2,3,4\n'), 'csv', u8, 'WRONG_WIDTH', /4 columns; this model's signature takes 3/, undefined],
    ['wrong width (columns)', json({ dataframe_split: { columns: ['a'], data: [[1, 2, 3]] } }), 'json', u8, 'WRONG_WIDTH', /names 1 columns/, undefined],
    ['not a uint8', json({ inputs: [[1, 2, 3], [4, 2.5, 6]] }), 'json', u8, 'BAD_DTYPE', /row 2, column 2 is 2.5; this model takes uint8/, { row: 2, column: 2 }],
    ['out of byte range', json({ instances: [[1, 256, 3]] }), 'json', u8, 'BAD_DTYPE', /row 1, column 2 is 256/, { row: 1, column: 2 }],
    ['negative', json({ instances: [[1, 2, -1]] }), 'json', u8, 'BAD_DTYPE', /column 3 is -1/, { row: 1, column: 3 }],
    ['a string', json({ inputs: [[1, 'x', 3]] }), 'json', f32, 'BAD_DTYPE', /row 1, column 2 is "x"; values must be numbers/, { row: 1, column: 2 }],
    ['null', json({ inputs: [[1, 2, null]] }), 'json', f32, 'BAD_DTYPE', /column 3 is null/, { row: 1, column: 3 }],
    ['NaN token', json('{"inputs": [[1, NaN, 3]]}'), 'json', f32, 'BAD_JSON', /not valid JSON.*NaN/, undefined],
    ['NaN in CSV', text('1,2,3\n4,nan,6\n'), 'csv', f32, 'BAD_DATA', /row 2\), column 2 is NaN/, { row: 2, column: 2 }],
    ['NaN in npy', encodeNpy({ rows: 2, cols: 3, dtype: 'float32', data: Float32Array.of(1, 2, 3, 4, 5, NaN) }), 'npy', f32, 'BAD_DATA', /row 2, column 3 is NaN/, { row: 2, column: 3 }],
    ['float npy for a uint8 model', encodeNpy({ rows: 1, cols: 3, dtype: 'float32', data: Float32Array.of(1, 0.5, 3) }), 'npy', u8, 'BAD_DTYPE', /row 1, column 2 is 0.5/, { row: 1, column: 2 }],
    ['float32 overflow', json({ inputs: [[1, 1e39, 3]] }), 'json', f32, 'BAD_DTYPE', /overflows float32/, { row: 1, column: 2 }],
    ['empty batch', json({ inputs: [] }), 'json', u8, 'EMPTY_BATCH', /empty batch/, undefined],
    ['empty body', new Uint8Array(0), 'npy', u8, 'EMPTY_BATCH', /empty/, undefined],
    ['empty npy', encodeNpy({ rows: 0, cols: 3, dtype: 'uint8', data: new Uint8Array(0) }), 'npy', u8, 'BAD_DATA', /empty/, undefined],
    ['1-D npy', npy('|u1', [3], Uint8Array.of(1, 2, 3)), 'npy', u8, 'BAD_DATA', /1-D .*must be 2-D/, undefined],
    ['3-D npy', npy('|u1', [1, 1, 3], Uint8Array.of(1, 2, 3)), 'npy', u8, 'BAD_DATA', /3-D .*must be 2-D/, undefined],
    ['truncated npy', encodeNpy({ rows: 2, cols: 3, dtype: 'uint8', data: new Uint8Array(6) }).subarray(0, 100), 'npy', u8, 'BAD_DATA', /request body/, undefined],
    ['a 1-D JSON batch', json({ inputs: [1, 2, 3] }), 'json', u8, 'BAD_REQUEST', /row 1 is not a list/, { row: 1 }],
    ['no known key', json({ data: [[1, 2, 3]] }), 'json', u8, 'BAD_REQUEST', /exactly one of "inputs", "instances" or "dataframe_split" \(got "data"\)/, undefined],
    ['two keys', json({ inputs: [[1, 2, 3]], instances: [[1, 2, 3]] }), 'json', u8, 'BAD_REQUEST', /exactly one/, undefined],
    ['not an object', json([[1, 2, 3]]), 'json', u8, 'BAD_REQUEST', /must be an object/, undefined],
  ] as const)('%s', (_name, body, format, sig, code, message, details) => {
    const r = refused(body, format, sig);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.message).toMatch(message);
    if (details) expect(r.body.error.details).toEqual(details);
  });
});

describe('toErrorResponse', () => {
  it('maps our codes and hides unknown errors', () => {
    expect(toErrorResponse(new ServeError('UNSUPPORTED_MEDIA_TYPE', 'x')).status).toBe(415);
    expect(toErrorResponse(new ServeError('PAYLOAD_TOO_LARGE', 'too large'))).toEqual({ status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: 'too large' } } });
    expect(toErrorResponse(new ServeError('WRONG_WIDTH', 'w', { row: 2 }))).toEqual({ status: 400, body: { error: { code: 'WRONG_WIDTH', message: 'w', details: { row: 2 } } } });
    expect(toErrorResponse(new Error('secret path /etc/x'))).toEqual({ status: 500, body: { error: { code: 'INTERNAL', message: 'internal error (logged by the server)' } } });
  });
});
