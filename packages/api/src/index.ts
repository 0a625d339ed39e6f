/**
 * @cmbn/api: the coordinator's HTTP contract. Request and response bodies are zod schemas, used by
 * the coordinator to validate, by the CLI's client and the console to parse, and to generate the
 * OpenAPI 3.1 document served at GET /openapi.json. Depends on zod only (and the generator), so a
 * browser bundle can import it.
 */
export * from './common.ts';
export * from './datasets.ts';
export * from './runs.ts';
export * from './models.ts';
export * from './ops.ts';
export { apiRoutes, findRoute, openApiPath, responseSchema } from './routes.ts';
export type { ApiResponse, ApiRoute, Method } from './routes.ts';
export { buildOpenApiDocument } from './openapi.ts';
export type { OpenApiDocument } from './openapi.ts';
export { contractCheckedApi, contractCheckedFetch, documentValidator } from './document-validator.ts';
export type { CheckedApi, ContractReport, DocumentValidator, FetchLike } from './document-validator.ts';
