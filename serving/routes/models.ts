import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { loadCatalog, type Catalog } from '../../features/catalog.ts';
import { modelContract } from '../../training/contract.ts';
import { parseArtifact } from '../../training/artifact.ts';
import { getModel, listModels, loadModel, promoteOrExplain } from '../../training/registry/index.ts';
import { requireScope } from '../auth.ts';
import type { AppDeps } from '../deps.ts';
import { AliasBodySchema, AliasParamsSchema, AliasResponseSchema, ModelRefParamsSchema, ModelResponseSchema, modelResponse } from '../schemas/models.ts';
import { errorResponses } from '../schemas/errors.ts';
import { z } from 'zod';

export function modelRoutes(deps: AppDeps): FastifyPluginAsyncZod {
  let catalog: Catalog | undefined;
  const theCatalog = () => (catalog ??= loadCatalog());
  const catalogVersion = () => theCatalog().version;
  const read = requireScope(deps.auth, 'score:read');
  const admin = requireScope(deps.auth, 'models:admin');
  return async (app) => {
    app.get('/models', {
      onRequest: read,
      schema: { tags: ['models'], summary: 'Registry entries, newest first, with metrics and lineage', security: [{ bearer: [] }],
        response: { 200: z.object({ models: z.array(ModelResponseSchema) }), ...errorResponses } },
    }, async () => ({ models: (await listModels(deps.pool)).map(modelResponse) }));

    app.get('/models/:version', {
      onRequest: read,
      schema: { tags: ['models'], summary: 'One registry entry, by version or alias, with its input contract', security: [{ bearer: [] }],
        params: ModelRefParamsSchema, response: { 200: ModelResponseSchema, ...errorResponses } },
    }, async (req) => {
      const meta = await getModel(deps.pool, req.params.version);
      const contract = meta.status === 'failed' ? null : modelContract(parseArtifact((await loadModel(deps.pool, meta.version)).artifact, `model version ${meta.version}`), theCatalog());
      return { ...modelResponse(meta), input_contract: contract };
    });

    app.put('/models/:version/aliases/:alias', {
      onRequest: admin,
      schema: { tags: ['models'], summary: 'Moves an alias to a version under the promotion rule: a version not trained on the feature catalogue, or worse than the holder on the same rows, is refused (409) unless `force` with a `reason` (the champion swaps without dropping requests)', security: [{ bearer: [] }],
        params: AliasParamsSchema, body: AliasBodySchema, response: { 200: AliasResponseSchema, ...errorResponses } },
    }, async (req) => {
      const r = await promoteOrExplain(deps.pool, {
        ref: req.params.version, alias: req.params.alias, actor: `api:${req.principal?.name ?? 'unknown'}`,
        force: req.body?.force ?? false, reason: req.body?.reason ?? null, catalogVersion: catalogVersion(),
      });
      // This replica swaps now; the NOTIFY tells the others.
      if (req.params.alias === deps.holder.alias) await deps.holder.refresh();
      return { alias: req.params.alias, from_version: r.fromVersion, to_version: r.toVersion, moved: r.decision !== 'already', decision: r.decision, reason: r.reason };
    });
  };
}
